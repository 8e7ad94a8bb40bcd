#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

static int say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return 1;
}

/* Looks up user and group and checks that they fit together; 0 with the
 * ids, or 1 with why filled. */
static int resolve(const char *user, const char *group, uid_t *ret_uid, gid_t *ret_gid, char *why,
		   size_t whylen)
{
	struct passwd *pw;
	struct group *gr;
	uid_t uid = (uid_t)-1;
	gid_t gid, primary;

	errno = 0;
	pw = getpwnam(user);
	if (!pw && (errno == 0 || errno == ENOENT || errno == ESRCH))
		return say(why, whylen, "scan user '%s' does not exist", user);
	if (!pw)
		return say(why, whylen, "scan user '%s' cannot be looked up: %s", user, strerror(errno));
	uid = pw->pw_uid;
	primary = pw->pw_gid; /* pw points into static storage that getgrnam may reuse */

	errno = 0;
	gr = getgrnam(group);
	if (!gr && (errno == 0 || errno == ENOENT || errno == ESRCH))
		return say(why, whylen, "scan group '%s' does not exist", group);
	if (!gr)
		return say(why, whylen, "scan group '%s' cannot be looked up: %s", group, strerror(errno));
	gid = gr->gr_gid;

	if (uid == 0)
		return say(why, whylen, "scan user '%s' is uid 0", user);
	if (gid == 0)
		return say(why, whylen, "scan group '%s' is gid 0", group);
	if (primary != gid)
		return say(why, whylen, "scan user '%s' has primary group %u, not '%s' (%u)", user,
			   (unsigned)primary, group, (unsigned)gid);
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

/* Empties the bounding set; needs CAP_SETPCAP, so it is done while root.
 * The bounding set only limits what execve can grant, so this takes
 * nothing from the running process.  Returns how many could not be
 * dropped. */
static int drop_bounding_set(void)
{
	int failed = 0;

	for (cap_value_t c = 0; c < cap_max_bits(); c++)
		if (cap_get_bound(c) == 1 && cap_drop_bound(c) < 0)
			failed++;
	return failed;
}

static bool ids_are(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	return getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 && ru == uid &&
	       eu == uid && su == uid && rg == gid && eg == gid && sg == gid;
}

/* After the switch: the ids are the target, no supplementary group is
 * left, and the way back to root is closed. */
static int verify(uid_t uid, gid_t gid)
{
	if (!ids_are(uid, gid)) {
		log_error("privdrop: ids are not %u:%u after the switch", (unsigned)uid, (unsigned)gid);
		return -EPERM;
	}
	int n = getgroups(0, NULL);
	if (n < 0)
		return log_error_errno(errno, "privdrop: getgroups");
	if (n > 0) {
		log_error("privdrop: %d supplementary groups left after setgroups", n);
		return -EPERM;
	}
	if (setgid(0) == 0 || setuid(0) == 0) {
		log_error("privdrop: setuid(0)/setgid(0) succeeded after the switch");
		return -EPERM;
	}
	return 0;
}

int privdrop_user(const char *user, const char *group, char *why, size_t whylen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	r = resolve(user, group, &uid, &gid, why, whylen);
	if (r != 0)
		return r;
	if (ids_are(uid, gid) && getgroups(0, NULL) == 0)
		return 0; /* started as the scan user already */
	if (geteuid() != 0)
		return say(why, whylen, "not started as root (uid %u): cannot switch to '%s'",
			   (unsigned)geteuid(), user);

	drop_bounding_set();
	/* Until setresuid succeeds nothing is lost: a refusal leaves root
	 * (with fewer groups), which the caller reports as fault 5. */
	if (setgroups(0, NULL) < 0)
		return say(why, whylen, "setgroups(0): %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return say(why, whylen, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return say(why, whylen, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
	return verify(uid, gid);
}

int privdrop_caps(void)
{
	cap_t caps = NULL, empty = NULL;
	int r = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_error_errno(errno, "privdrop: PR_SET_NO_NEW_PRIVS");
	/* As root (fault 5) this still has CAP_SETPCAP; as the scan user the
	 * set was emptied before the switch. */
	if (geteuid() == 0)
		drop_bounding_set();
	if (cap_reset_ambient() < 0 && errno != EINVAL) /* EINVAL: kernel without ambient caps */
		return log_error_errno(errno, "privdrop: clearing the ambient capabilities");

	empty = cap_init();
	if (!empty)
		return log_error_errno(errno, "privdrop: cap_init");
	if (cap_clear(empty) < 0 || cap_set_proc(empty) < 0) {
		r = log_error_errno(errno, "privdrop: dropping all capabilities");
		goto out;
	}
	caps = cap_get_proc();
	if (!caps) {
		r = log_error_errno(errno, "privdrop: cap_get_proc");
		goto out;
	}
	if (cap_compare(caps, empty) != 0) {
		log_error("privdrop: capabilities left after cap_set_proc");
		r = -EPERM;
	}
out:
	if (caps)
		cap_free(caps);
	cap_free(empty);
	return r;
}
