// SPDX-License-Identifier: GPL-2.0-only
/* netmon.bpf.c - network flows with their process, and the blocklist.
 *
 * TCP: the BTF tracepoint inet_sock_set_state sees every state change.  The
 * ones in process context name the process: CLOSE->SYN_SENT (connect) and
 * ->LISTEN (listen); the others (established, closed) usually run in softirq
 * and take the process from what those recorded, per socket and per
 * listening port.
 *
 * Connect and send: cgroup-v2 sock_addr hooks (connect4/6, sendmsg4/6) run in
 * the calling process before anything leaves.  They check the destination
 * against the blocklist tries and, in block mode, refuse it (return 0: the
 * call fails with EPERM).  UDP has no state to trace: a UDP connect or a send
 * with an address is its flow event, at most one per process and peer per
 * udp_interval.
 *
 * Before an event is reserved: the policy's process exclusions (a refusal is
 * reported all the same: it is the kernel's doing, not the process's
 * activity), then degraded mode, which keeps only the critical set; what is
 * left out is counted per kind.  Connect and send decide on the current
 * process; a TCP connection carries the decision made when it was opened,
 * and an accepted one is decided from its listener. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "exclude.bpf.h"
#include "netmon_event.h"

#define AF_INET 2
#define AF_INET6 10

char LICENSE[] SEC("license") = "GPL";

/* Sized from the policy before load (network_monitor.ring_buffer_kb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 21);
} events SEC(".maps");

/* What did not become an event, per event kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETMON_KIND_MAX);
	__type(key, __u32);
	__type(value, struct kstats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netmon_config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NETMON_BLOCKLIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netmon_lpm4);
	__type(value, __u8);
} blocklist4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NETMON_BLOCKLIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netmon_lpm6);
	__type(value, __u8);
} blocklist6 SEC(".maps");

/* Live TCP connections by socket address (LRU: a connection whose close we
 * never see must not hold its slot forever). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 17);
	__type(key, __u64);
	__type(value, struct netmon_sock);
} socks SEC(".maps");

/* Listening TCP ports and the process that listens. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, struct netmon_port_key);
	__type(value, struct netmon_owner);
} ports SEC(".maps");

/* When the last UDP event of a process to a peer was sent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, struct netmon_udp_key);
	__type(value, __u64);
} udp_last SEC(".maps");

/* The single entry of an array map always exists: never NULL, but the
 * verifier wants the check. */
static __always_inline struct netmon_config get_config(void)
{
	__u32 zero = 0;
	struct netmon_config *c = bpf_map_lookup_elem(&settings, &zero);
	struct netmon_config none = {};
	return c ? *c : none;
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d): an IPv6 socket talking IPv4. */
static __always_inline bool v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline bool in_blocklist(__u16 family, const __u8 *addr)
{
	if (family == AF_INET6 && !v4_mapped(addr)) {
		struct netmon_lpm6 k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, addr, 16);
		return bpf_map_lookup_elem(&blocklist6, &k) != NULL;
	}
	struct netmon_lpm4 k = { .prefixlen = 32 };
	__builtin_memcpy(k.addr, family == AF_INET6 ? addr + 12 : addr, 4);
	return bpf_map_lookup_elem(&blocklist4, &k) != NULL;
}

static __always_inline struct kstats *stats_of(__u32 kind)
{
	return bpf_map_lookup_elem(&stats, &kind);
}

/* Whether an event of this kind, of a process excluded or not, is wanted:
 * exclusions first, then degraded mode; what is left out is counted.  A
 * standby instance neither reports nor counts. */
static __always_inline bool wanted(__u32 kind, bool excluded, const struct netmon_config *c)
{
	struct kstats *st;
	if (c->standby)
		return false;
	if (excluded) {
		if ((st = stats_of(kind)))
			st->excluded++;
		return false;
	}
	if (c->degraded && !NETMON_CRITICAL(kind)) {
		if ((st = stats_of(kind)))
			st->suppressed++;
		return false;
	}
	return true;
}

static __always_inline struct netmon_event *reserve(__u32 kind)
{
	struct netmon_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct kstats *st = stats_of(kind);
		if (st)
			st->dropped++;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/* ------------------------------------------------------------------ TCP */

static __always_inline void fill_from_sock(struct netmon_event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->proto = IPPROTO_TCP;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* Into typed locals: BPF_CORE_READ_INTO copies sizeof(*dst) bytes. */
	if (e->family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->laddr, &l, 4);
		__builtin_memcpy(e->raddr, &r, 4);
	} else {
		struct in6_addr l = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr r = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		__builtin_memcpy(e->laddr, &l, 16);
		__builtin_memcpy(e->raddr, &r, 16);
	}
	e->blocklisted = in_blocklist(e->family, e->raddr);
}

static __always_inline void current_owner(int *pid, __u32 *uid, char *comm)
{
	*pid = bpf_get_current_pid_tgid() >> 32;
	*uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(comm, NETMON_COMM_LEN);
}

static __always_inline int emit_tcp(__u32 kind, const struct sock *sk, const struct netmon_sock *s,
				    int oldstate, int newstate)
{
	struct netmon_config c = get_config();
	if (!wanted(kind, s->excluded, &c))
		return 0;
	struct netmon_event *e = reserve(kind);
	if (!e)
		return 0;
	fill_from_sock(e, sk);
	if (!e->lport) /* released before the change to CLOSE */
		e->lport = s->lport;
	e->pid = s->pid;
	e->uid = s->uid;
	e->direction = s->direction;
	e->oldstate = oldstate;
	e->newstate = newstate;
	__builtin_memcpy(e->comm, s->comm, NETMON_COMM_LEN);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline struct netmon_port_key port_key(const struct sock *sk)
{
	struct netmon_port_key k = {
		.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
		.family = BPF_CORE_READ(sk, __sk_common.skc_family),
		.port = BPF_CORE_READ(sk, __sk_common.skc_num),
	};
	return k;
}

/* listen(2), in the listening process: who it is, and what the exclusions
 * look at (its executable, uid and cgroup). */
static __always_inline int on_listen(const struct sock *sk)
{
	struct netmon_port_key k = port_key(sk);
	struct netmon_owner o = { .sk = (__u64)sk };
	/* Not bpf_get_current_task_btf(): tracing programs have it only since
	 * 5.11, and the policy's min_kernel is 5.8. */
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct inode *exe = BPF_CORE_READ(t, mm, exe_file, f_inode);
	current_owner(&o.pid, &o.uid, o.comm);
	o.exe_dev = BPF_CORE_READ(exe, i_sb, s_dev);
	o.exe_ino = BPF_CORE_READ(exe, i_ino);
	o.cgroup = bpf_get_current_cgroup_id();
	bpf_map_update_elem(&ports, &k, &o, BPF_ANY);
	return 0;
}

/* Whether a listener is excluded by the exclusions in force now. */
static __always_inline bool owner_excluded(const struct netmon_owner *o)
{
	struct exclude_exe_key exe = { .dev = o->exe_dev, .ino = o->exe_ino };
	__u32 uid = o->uid;
	__u64 cg = o->cgroup;
	return bpf_map_lookup_elem(&excl_uid, &uid) || bpf_map_lookup_elem(&excl_cgroup, &cg) ||
	       bpf_map_lookup_elem(&excl_exe, &exe);
}

static __always_inline int on_unlisten(const struct sock *sk)
{
	struct netmon_port_key k = port_key(sk);
	struct netmon_owner *o = bpf_map_lookup_elem(&ports, &k);
	/* Another socket may listen on the port now (SO_REUSEPORT, a restart). */
	if (o && o->sk == (__u64)sk)
		bpf_map_delete_elem(&ports, &k);
	return 0;
}

/* connect(2), in the connecting process. */
static __always_inline int on_syn_sent(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct netmon_sock s = { .direction = NETMON_OUTBOUND, .excluded = excluded_current() };
	current_owner(&s.pid, &s.uid, s.comm);
	bpf_map_update_elem(&socks, &key, &s, BPF_ANY);
	return 0;
}

static __always_inline int on_outbound_established(const struct sock *sk, int oldstate)
{
	__u64 key = (__u64)sk;
	struct netmon_sock *s = bpf_map_lookup_elem(&socks, &key);
	if (!s) /* connecting since before we started, or evicted */
		return 0;
	s->established = 1;
	s->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	return emit_tcp(NETMON_CONNECT, sk, s, oldstate, TCP_ESTABLISHED);
}

/* The new socket of an accepted connection: no process has it yet (softirq);
 * the one that listens on its local port is its owner. */
static __always_inline int on_inbound_established(const struct sock *sk, int oldstate)
{
	__u64 key = (__u64)sk;
	struct netmon_sock *mine = bpf_map_lookup_elem(&socks, &key);
	if (mine && !mine->established) /* a simultaneous open: this one connected */
		return on_outbound_established(sk, oldstate);

	struct netmon_port_key k = port_key(sk);
	__u16 family = k.family;
	struct netmon_owner *o = bpf_map_lookup_elem(&ports, &k);
	if (!o) {
		/* An IPv4 connection to a dual-stack IPv6 listener, or the reverse. */
		k.family = family == AF_INET ? AF_INET6 : AF_INET;
		o = bpf_map_lookup_elem(&ports, &k);
	}
	struct netmon_sock s = { .direction = NETMON_INBOUND, .established = 1, .lport = k.port };
	if (o) {
		s.pid = o->pid;
		s.uid = o->uid;
		s.excluded = owner_excluded(o);
		__builtin_memcpy(s.comm, o->comm, NETMON_COMM_LEN);
	}
	bpf_map_update_elem(&socks, &key, &s, BPF_ANY);
	return emit_tcp(NETMON_ACCEPT, sk, &s, oldstate, TCP_ESTABLISHED);
}

static __always_inline int on_close(const struct sock *sk, int oldstate)
{
	__u64 key = (__u64)sk;
	struct netmon_sock *s = bpf_map_lookup_elem(&socks, &key);
	if (!s)
		return 0;
	if (s->established && get_config().log_closed)
		emit_tcp(NETMON_CLOSE, sk, s, oldstate, TCP_CLOSE);
	bpf_map_delete_elem(&socks, &key);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	if (newstate == TCP_LISTEN)
		return on_listen(sk);
	if (oldstate == TCP_LISTEN)
		return on_unlisten(sk);
	if (newstate == TCP_SYN_SENT)
		return on_syn_sent(sk);
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_SENT)
		return on_outbound_established(sk, oldstate);
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV)
		return on_inbound_established(sk, oldstate);
	if (newstate == TCP_CLOSE)
		return on_close(sk, oldstate);
	return 0;
}

/* ------------------------------------------------- connect and sendmsg */

/* Whether a UDP event for this process and peer is due (and if so, note it). */
static __always_inline bool udp_due(struct bpf_sock_addr *ctx, __u16 family, const __u8 *raddr,
				    const struct netmon_config *c)
{
	if (!c->udp_interval_ns)
		return true;
	struct netmon_udp_key k = {
		.pid = bpf_get_current_pid_tgid() >> 32,
		.family = family,
		.rport = bpf_ntohs((__u16)ctx->user_port),
	};
	__builtin_memcpy(k.raddr, raddr, 16);
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&udp_last, &k);
	if (last && now - *last < c->udp_interval_ns)
		return false;
	bpf_map_update_elem(&udp_last, &k, &now, BPF_ANY);
	return true;
}

static __always_inline void fill_from_ctx(struct netmon_event *e, struct bpf_sock_addr *ctx,
					  __u16 family, const __u8 *raddr, bool listed, __u8 how)
{
	struct bpf_sock *sk = ctx->sk;
	e->family = family;
	e->proto = ctx->protocol;
	e->direction = NETMON_OUTBOUND;
	e->blocklisted = listed;
	e->how = how;
	e->rport = bpf_ntohs((__u16)ctx->user_port);
	__builtin_memcpy(e->raddr, raddr, 16);
	if (sk) {
		e->lport = sk->src_port;
		if (family == AF_INET) {
			__u32 a = sk->src_ip4;
			__builtin_memcpy(e->laddr, &a, 4);
		} else {
			__u32 a[4] = { sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3] };
			__builtin_memcpy(e->laddr, a, 16);
		}
	}
	current_owner(&e->pid, &e->uid, e->comm);
}

/* The verdict on a connect or send to raddr: 1 allows it, 0 refuses it
 * (EPERM).  Blocklisted: an event, refused in block mode.  UDP: a flow
 * event when one is due.  TCP otherwise: the tracepoint reports it once
 * established. */
static __always_inline int check(struct bpf_sock_addr *ctx, __u16 family, const __u8 *raddr,
				 __u8 how)
{
	struct netmon_config c = get_config();
	bool listed = in_blocklist(family, raddr);
	bool udp = ctx->protocol == IPPROTO_UDP;
	bool refused = listed && c.block;
	int verdict = refused ? 0 : 1;
	__u32 kind = listed ? NETMON_BLOCK : NETMON_UDP;

	if (!listed && !udp)
		return verdict;
	/* A UDP flood, refused or not, must not flood the ring buffer too: what
	 * is not due is no event, not even an excluded or suppressed one. */
	if (c.standby || (udp && !udp_due(ctx, family, raddr, &c)))
		return verdict;
	if (!wanted(kind, !refused && excluded_current(), &c))
		return verdict;
	struct netmon_event *e = reserve(kind);
	if (!e)
		return verdict;
	fill_from_ctx(e, ctx, family, raddr, listed, how);
	e->refused = refused;
	bpf_ringbuf_submit(e, 0);
	return verdict;
}

static __always_inline int check4(struct bpf_sock_addr *ctx, __u8 how)
{
	__u8 raddr[16] = {};
	__u32 a = ctx->user_ip4;
	__builtin_memcpy(raddr, &a, 4);
	return check(ctx, AF_INET, raddr, how);
}

static __always_inline int check6(struct bpf_sock_addr *ctx, __u8 how)
{
	/* Word by word: the context allows only 4-byte loads of user_ip6. */
	__u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	return check(ctx, AF_INET6, (const __u8 *)a, how);
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, NETMON_HOW_CONNECT);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, NETMON_HOW_CONNECT);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, NETMON_HOW_SENDMSG);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, NETMON_HOW_SENDMSG);
}
