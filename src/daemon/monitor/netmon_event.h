/* netmon_event.h - the network monitor's event and map layouts, shared by
 * netmon.bpf.c (the kernel side) and the daemon's netmon.c (which reads the
 * ring buffer and writes the blocklist and configuration maps).  Fixed-size
 * types only: both sides must agree on the layout. */
#ifndef PICKET_NETMON_EVENT_H
#define PICKET_NETMON_EVENT_H

#include "kstats_map.h"

#define NETMON_COMM_LEN 16
#define NETMON_BLOCKLIST_MAX 65536 /* entries per address family (POLICY_MAX_BLOCKLIST) */

enum netmon_kind {
	NETMON_CONNECT = 1, /* TCP outbound, established */
	NETMON_ACCEPT = 2,  /* TCP inbound, established */
	NETMON_CLOSE = 3,   /* TCP closed (only when log_closed is set) */
	NETMON_UDP = 4,     /* UDP send (sendmsg with an address) or connect */
	NETMON_BLOCK = 5,   /* connect or send to the blocklist, refused or reported */
	NETMON_KIND_MAX = 6, /* counters are indexed by kind */
};

/* The critical set of degraded mode (fault 18): outbound connections and
 * the blocklist's refusals and reports.  Blocking itself is never degraded. */
#define NETMON_CRITICAL(kind) ((kind) == NETMON_CONNECT || (kind) == NETMON_BLOCK)


enum netmon_dir {
	NETMON_OUTBOUND = 0,
	NETMON_INBOUND = 1,
};

/* How a UDP or blocklist event came about (NETMON_UDP, NETMON_BLOCK). */
enum netmon_how {
	NETMON_HOW_STATE = 0,   /* a TCP state change */
	NETMON_HOW_CONNECT = 1, /* connect(2) */
	NETMON_HOW_SENDMSG = 2, /* sendto/sendmsg with an address */
};

struct netmon_event {
	unsigned int kind;  /* enum netmon_kind */
	int pid;            /* thread group id; 0 when not known (inbound, port owner unseen) */
	unsigned int uid;
	unsigned short family; /* AF_INET or AF_INET6 */
	unsigned char proto;   /* IPPROTO_TCP or IPPROTO_UDP */
	unsigned char direction; /* enum netmon_dir */
	unsigned char blocklisted; /* the remote address is in the blocklist */
	unsigned char refused;     /* NETMON_BLOCK: the kernel refused it (block mode) */
	unsigned char how;         /* enum netmon_how */
	unsigned char pad;
	unsigned short lport, rport; /* host byte order */
	unsigned char laddr[16], raddr[16]; /* network byte order; IPv4 in the first 4 */
	unsigned int oldstate, newstate; /* TCP states (the kernel's TCP_*) */
	unsigned long long ts_ns; /* bpf_ktime_get_ns */
	char comm[NETMON_COMM_LEN];
};

/* The configuration the daemon can change while the programs run (a
 * single-entry array: rodata cannot change after load). */
struct netmon_config {
	unsigned int block;      /* refuse connects and sends to the blocklist */
	unsigned int log_closed; /* report TCP closes */
	unsigned int degraded;   /* report only the critical set (fault 18) */
	unsigned int standby;    /* keep flow state and block, report and count nothing:
				  * a new instance that takes over from a running one */
	unsigned long long udp_interval_ns; /* one UDP event per (process, peer) per this; 0: all */
};

/* Blocklist tries (BPF_MAP_TYPE_LPM_TRIE), one per family. */
struct netmon_lpm4 {
	unsigned int prefixlen;
	unsigned char addr[4];
};

struct netmon_lpm6 {
	unsigned int prefixlen;
	unsigned char addr[16];
};

/* The owner of a listening port, recorded when it starts listening (process
 * context), read when a connection to it is established (softirq).  Per
 * network namespace: containers reuse the host's port numbers.  A listener
 * lives long: whether it is excluded is decided at each accepted connection,
 * from what it was when it listened (executable, uid, cgroup), so that a
 * policy reload applies to a server that is running already. */
struct netmon_port_key {
	unsigned int netns; /* the namespace's inode number */
	unsigned short family;
	unsigned short port;
};

struct netmon_owner {
	int pid;
	unsigned int uid;      /* real uid */
	unsigned long long sk; /* the listening socket, so only its own close forgets it */
	unsigned long long exe_dev, exe_ino; /* its executable (exclude_key.h's form) */
	unsigned long long cgroup;           /* its cgroup-v2 id */
	char comm[NETMON_COMM_LEN];
};

/* What a connection's later state changes need: who owns it, and whether
 * that process was excluded when the connection was opened (connect: by the
 * connecting process; accept: by the listener). */
struct netmon_sock {
	int pid;
	unsigned int uid;
	unsigned char direction;
	unsigned char established;
	unsigned short lport; /* once established: the close comes after the port is released */
	unsigned char excluded;
	unsigned char pad[3];
	char comm[NETMON_COMM_LEN];
};

/* UDP events are rate-limited per process and peer. */
struct netmon_udp_key {
	int pid;
	unsigned short family;
	unsigned short rport;
	unsigned char raddr[16];
};

#endif
