/* netmon.c - the network monitor's user side: loads netmon.bpf.c, attaches
 * its tracepoint and its cgroup-v2 programs to the cgroup2 root (every
 * process of the host below it), keeps the kernel's blocklist tries,
 * exclusion maps and configuration in line with the policy, and turns ring
 * buffer records into "flow" events. */
#include "netmon.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdint.h>
#include <unistd.h>

#include "cidr.h"
#include "cleanup.h"
#include "ebpf.h"
#include "kexclude.h"
#include "kstats.h"
#include "log.h"
#include "netmon.skel.h"
#include "netmon_event.h"

struct netmon {
	struct monitor mon;       /* first */
	struct netmon_bpf *skel; /* its links detach every program on destroy */
	struct ring_buffer *rb;
	struct io_source src;
	bool block;               /* the mode in force in the kernel */
	unsigned ring_kb;         /* the ring buffer's size in force */
	size_t blocklist_entries; /* in the kernel's tries */
	size_t exclusions;        /* entries in the kernel's exclusion maps */
	char btf[PATH_MAX];       /* the BTF file it was loaded with, "" for the kernel's */
	char cgroup[PATH_MAX];    /* the cgroup2 root the programs are attached to */
	char cgroup_off[128];     /* why it runs without its cgroup programs, "" */
	uint64_t events[6];       /* consumed, by enum netmon_kind (netmon_event.h) */
	uint64_t blocklisted;     /* of events[NETMON_BLOCK]: reported, not refused (audit) */
	uint64_t carried[6][3];   /* dropped, excluded, suppressed by kind, of the
				   * instances a ring buffer resize replaced */
};

_Static_assert(ARRAY_SIZE(((struct netmon *)0)->events) == NETMON_KIND_MAX &&
		       ARRAY_SIZE(((struct netmon *)0)->carried) == NETMON_KIND_MAX &&
		       sizeof(((struct netmon *)0)->carried[0]) == sizeof(struct kstats),
	       "struct netmon counts by enum netmon_kind, as struct kstats");
_Static_assert(POLICY_MAX_BLOCKLIST <= NETMON_BLOCKLIST_MAX,
	       "a whole policy blocklist of one family fits a trie");

#define LISTENERS_MAX 4096 /* listening sockets looked up in /proc at start */

static void cleanup_skel(struct netmon_bpf **s)
{
	netmon_bpf__destroy(*s);
}

/* ------------------------------------------------------------ the maps */

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct netmon_lpm6));
}

/* The list's ranges of one family as sorted, distinct trie keys.  Both
 * families use struct netmon_lpm6: an IPv4 key is its first 8 bytes. */
static int trie_keys(const struct cidr *list, size_t n, int family, struct netmon_lpm6 **ret,
		     size_t *ret_n)
{
	struct netmon_lpm6 *keys = calloc(n ? n : 1, sizeof(*keys));
	size_t k = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (list[i].family != family)
			continue;
		keys[k].prefixlen = list[i].prefix;
		memcpy(keys[k].addr, list[i].addr, family == AF_INET ? 4 : 16);
		k++;
	}
	qsort(keys, k, sizeof(*keys), key_cmp);
	size_t out = 0;
	for (size_t i = 0; i < k; i++)
		if (out == 0 || key_cmp(&keys[out - 1], &keys[i]) != 0)
			keys[out++] = keys[i];
	*ret = keys;
	*ret_n = out;
	return 0;
}

/* The trie's entries that keys does not have. */
static int trie_stale(int fd, const struct netmon_lpm6 *keys, size_t n, struct netmon_lpm6 **ret,
		      size_t *ret_n)
{
	_cleanup_free_ struct netmon_lpm6 *stale = NULL;
	struct netmon_lpm6 cur = { 0 }, next = { 0 };
	size_t count = 0, cap = 0;
	const void *prev = NULL;
	int r;

	while ((r = bpf_map_get_next_key(fd, prev, &next)) == 0) {
		if (!bsearch(&next, keys, n, sizeof(*keys), key_cmp)) {
			if (count == cap) {
				cap = cap ? 2 * cap : 64;
				struct netmon_lpm6 *grown = realloc(stale, cap * sizeof(*stale));
				if (!grown)
					return -ENOMEM;
				stale = grown;
			}
			stale[count++] = next;
		}
		cur = next;
		prev = &cur;
		memset(&next, 0, sizeof(next));
	}
	if (r != -ENOENT)
		return r;
	*ret = TAKE_PTR(stale);
	*ret_n = count;
	return 0;
}

/* Makes the trie hold exactly the list's ranges of its family, without a
 * moment where a range that stays is missing: stale entries go first (which
 * also makes room), then the list goes in. */
static int trie_sync(int fd, int family, const struct cidr *list, size_t n, size_t *ret_n)
{
	_cleanup_free_ struct netmon_lpm6 *keys = NULL, *stale = NULL;
	size_t n_keys = 0, n_stale = 0;
	const unsigned char one = 1;
	int r;

	r = trie_keys(list, n, family, &keys, &n_keys);
	if (r < 0)
		return r;
	r = trie_stale(fd, keys, n_keys, &stale, &n_stale);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_stale; i++) {
		r = bpf_map_delete_elem(fd, &stale[i]);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	for (size_t i = 0; i < n_keys; i++) {
		r = bpf_map_update_elem(fd, &keys[i], &one, BPF_ANY);
		if (r < 0)
			return r;
	}
	*ret_n = n_keys;
	return 0;
}

static int write_blocklist(struct netmon *m, const struct policy *p)
{
	size_t n4, n6;
	int r;

	r = trie_sync(bpf_map__fd(m->skel->maps.blocklist4), AF_INET, p->blocklist_cidrs,
		      p->n_blocklist_cidrs, &n4);
	if (r < 0)
		return r;
	r = trie_sync(bpf_map__fd(m->skel->maps.blocklist6), AF_INET6, p->blocklist_cidrs,
		      p->n_blocklist_cidrs, &n6);
	if (r < 0)
		return r;
	m->blocklist_entries = n4 + n6;
	return 0;
}

/* Mode and intervals live in a map, not rodata, so a reload changes them
 * in the running programs. */
static int write_config(struct netmon *m, const struct policy *p, bool standby)
{
	struct netmon_config c = {
		.block = p->net_mode == POLICY_NET_BLOCK,
		.log_closed = p->log_closed,
		.degraded = m->mon.degraded,
		.standby = standby,
		.udp_interval_ns = (unsigned long long)p->udp_interval * 1000000000ULL,
	};
	uint32_t zero = 0;
	int r = bpf_map__update_elem(m->skel->maps.settings, &zero, sizeof(zero), &c, sizeof(c),
				     BPF_ANY);
	if (r < 0)
		return r;
	m->block = c.block;
	return 0;
}

/* The blocklist first: a switch to block mode then blocks the new list.
 * The exclusion maps are emptied, then filled (kexclude_write): an event
 * decided meanwhile may see a part of either set. */
static int write_policy(struct netmon *m, const struct policy *p, bool standby,
			const char **ret_step)
{
	int r;

	*ret_step = "write the blocklist";
	r = write_blocklist(m, p);
	if (r < 0)
		return r;
	*ret_step = "write the exclusions";
	r = kexclude_write(p, m->skel->maps.excl_exe, m->skel->maps.excl_uid,
			   m->skel->maps.excl_cgroup, &m->exclusions);
	if (r < 0)
		return r;
	*ret_step = "write the configuration";
	return write_config(m, p, standby);
}

/* --------------------------------------------- listeners older than us */

struct listener {
	unsigned long long inode;
	unsigned short family, port;
	unsigned uid;
	bool found;
};

static int listener_cmp(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* The listening sockets of /proc/net/tcp or tcp6 (state 0A). */
static void read_listeners(const char *path, unsigned short family, struct listener *out,
			   size_t *n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512], local[80];
	unsigned state, uid;
	unsigned long long inode;

	if (!f || !fgets(line, sizeof(line), f)) /* the header */
		return;
	while (*n < LISTENERS_MAX && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*s %79s %*s %x %*s %*s %*s %u %*s %llu", local, &state, &uid,
			   &inode) != 4 || state != 0x0A)
			continue;
		const char *colon = strrchr(local, ':');
		if (colon)
			out[(*n)++] = (struct listener){ inode, family,
							 (unsigned short)strtoul(colon + 1, NULL, 16),
							 uid, false };
	}
}

/* What the kernel's on_listen() records of a process, from /proc: its real
 * uid, its executable and its cgroup, for the exclusions. */
static void proc_identity(struct netmon *m, int pid, struct netmon_owner *o)
{
	char path[PATH_MAX], line[PATH_MAX];
	struct stat st;
	unsigned uid;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) == 0) {
		o->exe_dev = ((unsigned long long)major(st.st_dev) << 20) | minor(st.st_dev);
		o->exe_ino = st.st_ino;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	_cleanup_fclose_ FILE *status = fopen(path, "re");
	while (status && fgets(line, sizeof(line), status))
		if (sscanf(line, "Uid: %u", &uid) == 1) {
			o->uid = uid;
			break;
		}
	/* The cgroup-v2 line, "0::/path"; the directory's inode is the cgroup id. */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	_cleanup_fclose_ FILE *cg = fopen(path, "re");
	while (cg && fgets(line, sizeof(line), cg))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (snprintf(path, sizeof(path), "%s%s", m->cgroup, line + 3) <
				    (int)sizeof(path) &&
			    stat(path, &st) == 0)
				o->cgroup = st.st_ino;
			break;
		}
}

static void add_owner(struct netmon *m, const struct listener *l, int pid, unsigned netns)
{
	struct netmon_port_key k = { .netns = netns, .family = l->family, .port = l->port };
	struct netmon_owner o = { .pid = pid, .uid = l->uid };
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (f && fgets(o.comm, sizeof(o.comm), f))
		o.comm[strcspn(o.comm, "\n")] = '\0';
	proc_identity(m, pid, &o);
	/* A listener that started since the tracepoint was attached is known better. */
	(void)bpf_map__update_elem(m->skel->maps.ports, &k, sizeof(k), &o, sizeof(o), BPF_NOEXIST);
}

/* Claims the listeners among pid's descriptors. */
static void scan_fds(struct netmon *m, int pid, struct listener *ls, size_t n, unsigned netns)
{
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	_cleanup_closedir_ DIR *dir = opendir(path);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		ssize_t len = readlinkat(dirfd(dir), de->d_name, target, sizeof(target) - 1);
		struct listener key, *l;
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%llu]", &key.inode) != 1)
			continue;
		l = bsearch(&key, ls, n, sizeof(*ls), listener_cmp);
		if (l && !l->found) {
			l->found = true;
			add_owner(m, l, pid, netns);
		}
	}
}

/* The tracepoint learns who listens on a port when listen() is called;
 * for the sockets that listened before picketd started, /proc tells (those
 * of picketd's own network namespace: /proc/net is that one's). */
static void seed_listeners(struct netmon *m)
{
	_cleanup_free_ struct listener *ls = calloc(LISTENERS_MAX, sizeof(*ls));
	size_t n = 0;
	struct dirent *de;
	struct stat st;

	if (!ls || stat("/proc/self/ns/net", &st) < 0)
		return;
	read_listeners("/proc/net/tcp", AF_INET, ls, &n);
	read_listeners("/proc/net/tcp6", AF_INET6, ls, &n);
	if (n == 0)
		return;
	qsort(ls, n, sizeof(*ls), listener_cmp);
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	while (proc && (de = readdir(proc)))
		if (isdigit((unsigned char)de->d_name[0]))
			scan_fds(m, atoi(de->d_name), ls, n, (unsigned)st.st_ino);
}

/* ------------------------------------------------------------ attaching */

static int attach_cgroup(struct netmon *m, char *step, size_t steplen)
{
	if (m->cgroup_off[0])
		return 0;
	struct netmon_bpf *s = m->skel;
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
	} progs[] = {
		{ s->progs.handle_connect4, &s->links.handle_connect4 },
		{ s->progs.handle_connect6, &s->links.handle_connect6 },
		{ s->progs.handle_sendmsg4, &s->links.handle_sendmsg4 },
		{ s->progs.handle_sendmsg6, &s->links.handle_sendmsg6 },
	};
	int r;

	snprintf(step, steplen, "open cgroup %s", m->cgroup);
	_cleanup_close_ int fd = open(m->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		snprintf(step, steplen, "attach %s to %s", bpf_program__section_name(progs[i].prog),
			 m->cgroup);
		/* In the skeleton's links: netmon_bpf__destroy detaches them. */
		*progs[i].link = bpf_program__attach_cgroup(progs[i].prog, fd);
		if ((r = ebpf_errno(*progs[i].link)) < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------ the events */

static const char *proto_name(unsigned proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		return "other";
	}
}

static const char *state_name(const struct netmon_event *e)
{
	switch (e->kind) {
	case NETMON_CONNECT:
	case NETMON_ACCEPT:
		return "established";
	case NETMON_CLOSE:
		return "closed";
	case NETMON_UDP:
		/* A connected UDP socket's sends pass no hook: its connect() stands for them. */
		return e->how == NETMON_HOW_CONNECT ? "connected" : "sent";
	default:
		return e->refused ? "blocked" : "blocklisted";
	}
}

/* An IPv4 peer of an IPv6 socket (::ffff:a.b.c.d) is written as IPv4. */
static struct json_object *addr_json(unsigned family, const unsigned char *a)
{
	char s[INET6_ADDRSTRLEN] = "?";
	struct in6_addr in6;

	if (family == AF_INET6) {
		memcpy(&in6, a, sizeof(in6));
		if (IN6_IS_ADDR_V4MAPPED(&in6))
			inet_ntop(AF_INET, a + 12, s, sizeof(s));
		else
			inet_ntop(AF_INET6, a, s, sizeof(s));
	} else {
		inet_ntop(AF_INET, a, s, sizeof(s));
	}
	return json_object_new_string(s);
}

/* The process from the process table; from the kernel's record when the
 * table does not know it (gone already). */
static struct json_object *process_json(struct netmon *m, const struct netmon_event *e)
{
	char comm[NETMON_COMM_LEN + 1];

	if (e->pid <= 0)
		return NULL; /* inbound to a port whose owner is not known */
	struct json_object *p = proctable_json(m->mon.ctx->procs, e->pid);
	if (p && !json_object_object_get_ex(p, "exe", NULL)) {
		memcpy(comm, e->comm, NETMON_COMM_LEN);
		comm[NETMON_COMM_LEN] = '\0';
		json_object_object_add(p, "uid", json_object_new_uint64(e->uid));
		json_object_object_add(p, "comm", json_object_new_string(comm));
	}
	return p;
}

static void emit(struct netmon *m, const struct netmon_event *e)
{
	struct event_sink *sink = m->mon.ctx->sink;
	struct json_object *ev = events_new(sink, "flow");
	if (!ev) {
		events_emit(sink, NULL);
		return;
	}
	json_object_object_add(ev, "proto", json_object_new_string(proto_name(e->proto)));
	json_object_object_add(ev, "direction", json_object_new_string(
				       e->direction == NETMON_INBOUND ? "inbound" : "outbound"));
	json_object_object_add(ev, "state", json_object_new_string(state_name(e)));
	json_object_object_add(ev, "local", addr_json(e->family, e->laddr));
	json_object_object_add(ev, "lport", json_object_new_int(e->lport));
	json_object_object_add(ev, "remote", addr_json(e->family, e->raddr));
	json_object_object_add(ev, "rport", json_object_new_int(e->rport));
	json_object_object_add(ev, "blocklisted", json_object_new_boolean(e->blocklisted));
	json_object_object_add(ev, "process", process_json(m, e));
	events_emit(sink, ev);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct netmon *m = ctx;
	const struct netmon_event *e = data;

	if (size < sizeof(*e) || e->kind == 0 || e->kind >= NETMON_KIND_MAX)
		return 0;
	m->events[e->kind]++;
	if (e->kind == NETMON_BLOCK && !e->refused)
		m->blocklisted++;
	/* Inbound: the listener is the source. */
	const struct proc_info *p = e->pid > 0 ? proctable_get(m->mon.ctx->procs, e->pid) : NULL;
	monitor_count_source(m->mon.ctx, p ? p->exe : "");
	emit(m, e);
	return 0;
}

static void on_readable(struct io_source *src, uint32_t events)
{
	struct netmon *m = src->obj;
	(void)events;
	int n = ring_buffer__consume(m->rb);
	if (n < 0)
		log_error_errno(n, "network monitor: ring buffer");
}

/* ------------------------------------------------------------ the module */

static struct netmon *netmon_of(struct monitor *mon)
{
	return (struct netmon *)mon;
}

/* Open and load into m, with the maps filled before any program runs;
 * standby: the programs keep state and block, but report nothing yet.
 * On failure *step names what failed. */
static int load(struct netmon *m, bool standby, char *step, size_t steplen)
{
	const struct policy *p = m->mon.ctx->policy;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = m->btf[0] ? m->btf : NULL);
	_cleanup_(cleanup_skel) struct netmon_bpf *skel = netmon_bpf__open_opts(&opts);
	const char *what;
	int r;

	snprintf(step, steplen, "open netmon");
	if ((r = ebpf_errno(skel)) < 0)
		return r;
	snprintf(step, steplen, "ring buffer of %u KiB", p->net_ring_kb);
	if ((r = bpf_map__set_max_entries(skel->maps.events, p->net_ring_kb * 1024)) < 0)
		return r;
	if (m->cgroup_off[0]) {
		struct bpf_program *cg[] = { skel->progs.handle_connect4, skel->progs.handle_connect6,
					     skel->progs.handle_sendmsg4, skel->progs.handle_sendmsg6 };
		for (size_t i = 0; i < ARRAY_SIZE(cg); i++)
			bpf_program__set_autoload(cg[i], false);
	}
	snprintf(step, steplen, "load netmon");
	if ((r = netmon_bpf__load(skel)) < 0)
		return r;
	m->skel = TAKE_PTR(skel);
	m->ring_kb = p->net_ring_kb;
	if ((r = write_policy(m, p, standby, &what)) < 0)
		snprintf(step, steplen, "%s", what);
	return r;
}

static int attach_tracepoint(struct netmon *m, char *step, size_t steplen)
{
	snprintf(step, steplen, "attach tp_btf/inet_sock_set_state");
	m->skel->links.handle_set_state = bpf_program__attach(m->skel->progs.handle_set_state);
	return ebpf_errno(m->skel->links.handle_set_state);
}

/* m's ring buffer, whose events go to the running monitor live. */
static int new_ring_buffer(struct netmon *live, struct netmon *m, char *step, size_t steplen)
{
	snprintf(step, steplen, "ring buffer");
	m->rb = ring_buffer__new(bpf_map__fd(m->skel->maps.events), on_event, live, NULL);
	return ebpf_errno(m->rb);
}

/* The cgroup programs (the blocklist, UDP sends) are optional: without a
 * cgroup2 mount or kernel support the monitor runs on its tracepoint, and
 * status says what is missing. */
static int cgroup_hooks(struct netmon *m)
{
	int r = cgroup2_root(m->cgroup, sizeof(m->cgroup));
	if (r == -ENOENT)
		snprintf(m->cgroup_off, sizeof(m->cgroup_off), "no cgroup2 filesystem mounted");
	else if (r < 0)
		return r;
	else if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) == 0)
		snprintf(m->cgroup_off, sizeof(m->cgroup_off),
			 "the kernel has no cgroup sock_addr programs");
	if (m->cgroup_off[0])
		log_warning("network monitor: running without its cgroup programs (%s): the "
			    "blocklist is not enforced and UDP sends are not reported",
			    m->cgroup_off);
	return 0;
}

static void stop(struct monitor *mon);

static int start(struct monitor *mon, char *err, size_t errlen)
{
	struct netmon *m = netmon_of(mon);
	const char *btf = mon->ctx->btf;
	struct monitor keep = *mon;
	char step[PATH_MAX + 64];
	int r;

	*m = (struct netmon){ .mon = keep, .src.fd = -1 };
	snprintf(m->btf, sizeof(m->btf), "%s", btf ? btf : "");
	r = cgroup_hooks(m);
	if (r < 0) {
		snprintf(err, errlen, "ebpf: find the cgroup2 mount in /proc/self/mountinfo: %s",
			 strerror(-r));
		return r;
	}
	r = load(m, false, step, sizeof(step));
	if (r >= 0)
		r = attach_tracepoint(m, step, sizeof(step));
	if (r >= 0) {
		seed_listeners(m); /* after the tracepoint: no listen() falls in between */
		r = attach_cgroup(m, step, sizeof(step));
	}
	if (r >= 0)
		r = new_ring_buffer(m, m, step, sizeof(step));
	if (r >= 0) {
		snprintf(step, sizeof(step), "epoll");
		m->src = (struct io_source){ ring_buffer__epoll_fd(m->rb), on_readable, m };
		r = loop_add(mon->ctx->epfd, &m->src, EPOLLIN);
	}
	if (r < 0) {
		stop(mon);
		return ebpf_fail(err, errlen, step, r);
	}
	mon->running = true;
	return 0;
}

static void stop(struct monitor *mon)
{
	struct netmon *m = netmon_of(mon);

	if (mon->running)
		loop_del(mon->ctx->epfd, &m->src);
	ring_buffer__free(m->rb);
	netmon_bpf__destroy(m->skel); /* detaches every program */
	m->rb = NULL;
	m->skel = NULL;
	mon->running = false;
}

/* The kernel's counters of each kind, summed over CPUs. */
static void kernel_stats(const struct netmon *m, struct kstats out[NETMON_KIND_MAX])
{
	kstats_read(m->skel ? m->skel->maps.stats : NULL, NETMON_KIND_MAX, out);
}

/* Keeps the counters of the instance a resize replaces. */
static void carry_over(struct netmon *m)
{
	struct kstats st[NETMON_KIND_MAX];

	kernel_stats(m, st);
	for (int k = 0; k < NETMON_KIND_MAX; k++) {
		m->carried[k][0] += st[k].dropped;
		m->carried[k][1] += st[k].excluded;
		m->carried[k][2] += st[k].suppressed;
	}
}

/* Copies what from has and to has not: the flow state a new instance takes
 * over (its own, written since its tracepoint was attached, is newer). */
static int copy_entries(struct bpf_map *from, struct bpf_map *to)
{
	size_t ksz = bpf_map__key_size(from), vsz = bpf_map__value_size(from);
	unsigned char cur[64], next[64], val[128];
	const void *prev = NULL;
	int r;

	if (ksz > sizeof(cur) || vsz > sizeof(val))
		return -EINVAL;
	/* Bounded: a key deleted meanwhile restarts the walk. */
	for (uint32_t n = 2 * bpf_map__max_entries(from); n > 0; n--) {
		r = bpf_map__get_next_key(from, prev, next, ksz);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		memcpy(cur, next, ksz);
		prev = cur;
		if (bpf_map__lookup_elem(from, cur, ksz, val, vsz, 0) < 0)
			continue; /* gone meanwhile */
		r = bpf_map__update_elem(to, cur, ksz, val, vsz, BPF_NOEXIST);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

static int copy_state(struct netmon *from, struct netmon *to)
{
	int r;

	if ((r = copy_entries(from->skel->maps.ports, to->skel->maps.ports)) < 0 ||
	    (r = copy_entries(from->skel->maps.socks, to->skel->maps.socks)) < 0)
		return r;
	return copy_entries(from->skel->maps.udp_last, to->skel->maps.udp_last);
}

/* Polls fd (a ring buffer's epoll fd) instead of the one polled now. */
static int poll_fd(struct netmon *m, int fd)
{
	int epfd = m->mon.ctx->epfd;
	int old = m->src.fd;
	int r;

	loop_del(epfd, &m->src);
	m->src.fd = fd;
	r = loop_add(epfd, &m->src, EPOLLIN);
	if (r < 0) {
		m->src.fd = old;
		if (loop_add(epfd, &m->src, EPOLLIN) < 0)
			log_error("network monitor: its ring buffer is not polled any more");
	}
	return r;
}

/* A new instance in standby, with the ring buffer size of the policy,
 * attached and holding the running one's flow state. */
static int prepare(struct netmon *m, struct netmon *next, char *step, size_t steplen)
{
	int r;

	next->mon = m->mon;
	memcpy(next->btf, m->btf, sizeof(next->btf));
	memcpy(next->cgroup, m->cgroup, sizeof(next->cgroup));
	memcpy(next->cgroup_off, m->cgroup_off, sizeof(next->cgroup_off));
	r = load(next, true, step, steplen);
	if (r >= 0)
		r = attach_tracepoint(next, step, steplen);
	if (r >= 0 && (r = copy_state(m, next)) < 0)
		snprintf(step, steplen, "take over the flow state");
	if (r >= 0)
		r = attach_cgroup(next, step, steplen);
	if (r >= 0)
		r = new_ring_buffer(m, next, step, steplen);
	return r;
}

/* A new ring buffer size: make before break.  The new programs start in
 * standby (they block and keep flow state, report nothing), take over the
 * old ones' flow state, then report; the old ones stop reporting right
 * after (an event can be reported twice only between those two map
 * writes) and block until they are detached; what the old ring buffer
 * holds is read before it goes.  Until the new instance reports, a failure
 * leaves the old one as it was. */
static int resize(struct netmon *m, char *err, size_t errlen)
{
	const struct policy *p = m->mon.ctx->policy;
	struct netmon next = { .src.fd = -1 };
	char step[PATH_MAX + 64];
	int r;

	r = prepare(m, &next, step, sizeof(step));
	if (r >= 0 && (r = poll_fd(m, ring_buffer__epoll_fd(next.rb))) < 0)
		snprintf(step, sizeof(step), "epoll");
	else if (r >= 0 && (r = write_config(&next, p, false)) < 0) {
		snprintf(step, sizeof(step), "write the configuration");
		(void)poll_fd(m, ring_buffer__epoll_fd(m->rb));
	}
	if (r < 0) {
		ring_buffer__free(next.rb);
		netmon_bpf__destroy(next.skel);
		return ebpf_fail(err, errlen, step, r);
	}
	r = write_config(m, p, true);
	if (r < 0) /* then until detached */
		log_warning_errno(r, "network monitor: the replaced programs still report");
	netmon_bpf__detach(m->skel);
	r = ring_buffer__consume(m->rb);
	if (r < 0)
		log_error_errno(r, "network monitor: the replaced ring buffer");
	carry_over(m);
	ring_buffer__free(m->rb);
	netmon_bpf__destroy(m->skel);
	m->skel = next.skel;
	m->rb = next.rb;
	m->ring_kb = next.ring_kb;
	m->block = next.block;
	m->blocklist_entries = next.blocklist_entries;
	m->exclusions = next.exclusions;
	return 0;
}

static int apply_policy(struct monitor *mon, char *err, size_t errlen)
{
	struct netmon *m = netmon_of(mon);
	const struct policy *p = mon->ctx->policy;
	const char *step;
	unsigned old_kb = m->ring_kb;

	if (!mon->running)
		return 0;
	int r = write_policy(m, p, false, &step);
	if (r < 0)
		return ebpf_fail(err, errlen, step, r);
	if (p->net_ring_kb == m->ring_kb)
		return 0;
	r = resize(m, err, errlen);
	if (r < 0)
		return r;
	log_notice("network monitor: ring buffer resized from %u to %u KiB", old_kb, m->ring_kb);
	return 0;
}

static void set_degraded(struct monitor *mon, bool on)
{
	struct netmon *m = netmon_of(mon);
	struct netmon_config c;
	uint32_t zero = 0;
	int r;

	mon->degraded = on;
	if (!mon->running)
		return;
	r = bpf_map__lookup_elem(m->skel->maps.settings, &zero, sizeof(zero), &c, sizeof(c), 0);
	if (r >= 0) {
		c.degraded = on;
		r = bpf_map__update_elem(m->skel->maps.settings, &zero, sizeof(zero), &c, sizeof(c),
					 BPF_ANY);
	}
	if (r < 0)
		log_error_errno(r, "network monitor: cannot switch degraded mode %s", on ? "on" : "off");
}

/* Per kind: the kernel's counters plus those of replaced instances. */
static void stats(const struct netmon *m, struct kstats st[NETMON_KIND_MAX])
{
	kernel_stats(m, st);
	for (int k = 0; k < NETMON_KIND_MAX; k++) {
		st[k].dropped += m->carried[k][0];
		st[k].excluded += m->carried[k][1];
		st[k].suppressed += m->carried[k][2];
	}
}

static void counts(struct monitor *mon, struct monitor_counts *ret)
{
	struct netmon *m = netmon_of(mon);
	struct kstats st[NETMON_KIND_MAX];

	stats(m, st);
	*ret = (struct monitor_counts){ 0 };
	for (int k = NETMON_CONNECT; k < NETMON_KIND_MAX; k++) {
		ret->seen += m->events[k];
		ret->dropped += st[k].dropped;
		ret->excluded += st[k].excluded;
		ret->suppressed += st[k].suppressed;
		if (NETMON_CRITICAL(k))
			ret->critical_dropped += st[k].dropped;
	}
}

static struct json_object *status(struct monitor *mon)
{
	static const char *const names[NETMON_KIND_MAX] = {
		[NETMON_CONNECT] = "connect", [NETMON_ACCEPT] = "accept", [NETMON_CLOSE] = "close",
		[NETMON_UDP] = "udp",         [NETMON_BLOCK] = "blocked",
	};
	struct netmon *m = netmon_of(mon);
	struct kstats st[NETMON_KIND_MAX];
	struct monitor_counts c;
	struct json_object *o = json_object_new_object();
	struct json_object *ev = json_object_new_object();
	struct json_object *dropped = json_object_new_object();
	struct json_object *excluded = json_object_new_object();
	struct json_object *suppressed = json_object_new_object();

	stats(m, st);
	counts(mon, &c);
	for (int k = NETMON_CONNECT; k < NETMON_KIND_MAX; k++) {
		uint64_t n = m->events[k] - (k == NETMON_BLOCK ? m->blocklisted : 0);
		json_object_object_add(ev, names[k], json_object_new_uint64(n));
		json_object_object_add(dropped, names[k], json_object_new_uint64(st[k].dropped));
		json_object_object_add(excluded, names[k], json_object_new_uint64(st[k].excluded));
		json_object_object_add(suppressed, names[k],
				       json_object_new_uint64(st[k].suppressed));
	}
	json_object_object_add(ev, "blocklisted", json_object_new_uint64(m->blocklisted));
	json_object_object_add(o, "backend", json_object_new_string("ebpf"));
	json_object_object_add(o, "cgroup", json_object_new_string(m->cgroup));
	if (m->cgroup_off[0]) {
		char why[256];
		snprintf(why, sizeof(why), "off: %s: the blocklist is not enforced, UDP sends are "
					   "not reported", m->cgroup_off);
		json_object_object_add(o, "cgroup_hooks", json_object_new_string(why));
	} else {
		json_object_object_add(o, "cgroup_hooks", json_object_new_string("on"));
	}
	json_object_object_add(o, "mode", json_object_new_string(m->block ? "block" : "audit"));
	json_object_object_add(o, "blocklist_entries", json_object_new_uint64(m->blocklist_entries));
	json_object_object_add(o, "events", ev);
	json_object_object_add(o, "dropped_by_type", dropped);
	json_object_object_add(o, "excluded_by_type", excluded);
	json_object_object_add(o, "suppressed_by_type", suppressed);
	json_object_object_add(o, "lost", json_object_new_uint64(c.dropped)); /* picketctl's name */
	json_object_object_add(o, "dropped", json_object_new_uint64(c.dropped));
	json_object_object_add(o, "excluded", json_object_new_uint64(c.excluded));
	json_object_object_add(o, "suppressed", json_object_new_uint64(c.suppressed));
	json_object_object_add(o, "degraded", json_object_new_boolean(mon->degraded));
	json_object_object_add(o, "exclusions", json_object_new_uint64(m->exclusions));
	json_object_object_add(o, "ring_buffer_kb", json_object_new_uint64(m->ring_kb));
	return o;
}

static void destroy(struct monitor *mon)
{
	stop(mon);
	free(netmon_of(mon));
}

static const struct monitor_ops netmon_ops = {
	.name = "network",
	.ebpf = true,
	.start = start,
	.stop = stop,
	.apply_policy = apply_policy,
	.set_degraded = set_degraded,
	.counts = counts,
	.status = status,
	.destroy = destroy,
};

struct monitor *netmon_new(const struct monitor_ctx *ctx)
{
	struct netmon *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->mon = (struct monitor){ .ops = &netmon_ops, .ctx = ctx };
	m->src.fd = -1;
	return &m->mon;
}
