/* log.h - the one logging path of every picket program.
 *
 * Messages go to stderr when running in the foreground, and to the systemd
 * journal when its socket exists, otherwise to syslog.  The *_errno forms
 * append strerror and return the (negative) errno so a caller can write
 * `return log_error_errno(r, "...")`. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_STDERR = 1 << 0,
	LOG_TARGET_SYSTEM = 1 << 1, /* journal if present, else syslog */
};

void log_setup(const char *ident, unsigned targets, int max_level);
void log_set_level(int max_level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_msg_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A structured record: message plus journal fields, each "KEY=value". */
void log_fields(int level, const char *message, const char *const *fields, int nfields);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_error_errno(e, ...) log_msg_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_msg_errno(LOG_WARNING, (e), __VA_ARGS__)
