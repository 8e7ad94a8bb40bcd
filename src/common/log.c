#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Logging is process-wide by nature (like syslog's openlog); this is the only
 * file-scope state in the programs and is set once at start. */
static struct {
	const char *ident;
	unsigned targets;
	int max_level;
	bool journal;
} logcfg = { "picket", LOG_TARGET_STDERR, LOG_INFO, false };

void log_setup(const char *ident, unsigned targets, int max_level)
{
	logcfg.ident = ident;
	logcfg.targets = targets;
	logcfg.max_level = max_level;
	logcfg.journal = access(JOURNAL_SOCKET, W_OK) == 0;
	if ((targets & LOG_TARGET_SYSTEM) && !logcfg.journal)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int max_level) { logcfg.max_level = max_level; }

static const char *level_name(int level)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	return level >= 0 && level <= LOG_DEBUG ? names[level] : "?";
}

void log_fields(int level, const char *message, const char *const *fields, int nfields)
{
	if (level > logcfg.max_level)
		return;
	if (logcfg.targets & LOG_TARGET_STDERR) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%d] %s: %s\n", stamp, ts.tv_nsec / 1000000,
			logcfg.ident, (int)getpid(), level_name(level), message);
	}
	if (!(logcfg.targets & LOG_TARGET_SYSTEM))
		return;
	if (!logcfg.journal) {
		syslog(level, "%s", message);
		return;
	}
	struct iovec iov[3 + 16];
	char msg[2048], prio[32], ident[64];
	int n = 0;
	snprintf(msg, sizeof(msg), "MESSAGE=%s", message);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", logcfg.ident);
	iov[n++] = (struct iovec){ msg, strlen(msg) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ ident, strlen(ident) };
	for (int i = 0; i < nfields && n < (int)(sizeof(iov) / sizeof(iov[0])); i++)
		iov[n++] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
	if (sd_journal_sendv(iov, n) < 0)
		syslog(level, "%s", message);
}

static void log_vmsg(int level, int err, const char *fmt, va_list ap)
{
	char buf[2048];
	int len = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err && len >= 0 && (size_t)len < sizeof(buf))
		snprintf(buf + len, sizeof(buf) - len, ": %s", strerror(err < 0 ? -err : err));
	log_fields(level, buf, NULL, 0);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	if (level > logcfg.max_level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

int log_msg_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;
	err = err < 0 ? err : -err;
	if (level <= logcfg.max_level) {
		va_start(ap, fmt);
		log_vmsg(level, err, fmt, ap);
		va_end(ap);
	}
	return err;
}
