#!/usr/bin/env bash
# monitor-bench.sh [BUILD_DIR] - what real-time monitoring costs the host:
# one fixed workload (picket-load --count N: file writes and moves, execs,
# loopback connects) run bare, under auditd, under clamonacc + clamd and
# under picket, in one run.  As root.  See README.md.
#
#   BUILD_DIR   the meson build to measure (default: the repository's build/)
#
# Environment:
#   BENCH_N=N             operations of each kind a run (default 3000)
#   BENCH_REPEAT=R        rounds: runs of each case, interleaved; the median is
#                         reported (default 3)
#   BENCH_CASES="..."     the cases, in this order (default: bare auditd clamonacc picket)
#   BENCH_KEEP=1          keep the temporary directory (configurations, logs, outputs)
#   BENCH_TIMEOUT=S       how long a daemon may take to be ready, and its
#                         events to arrive after a run (default 60)
#
# Steps: installs auditd, clamav-daemon (clamd, clamonacc), clamdscan, clamav
# (sigtool), clamav-testfiles and faketime with apt-get when missing
# (services kept from starting); builds the test definitions
# (tests/data/make-test-defs.sh); one unmeasured warm-up run; then R rounds,
# each running every case once (in a rotated order): start the case's
# daemons in the foreground with temporary configurations, run the
# workload, count the events the monitor saw, stop the daemons; prints the
# table of medians.  On exit, failure, SIGINT and SIGTERM: our audit
# rules are deleted, our auditd is stopped and the audit settings it changed
# (enabled, backlog_limit) are put back; clamonacc, clamd and picketd (our
# PIDs only) are stopped; the temporary directory is removed.  A peer that
# cannot run here is reported as such, and the other cases still run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

die() {
	echo "monitor-bench: $*" >&2
	exit 1
}
say() { echo "monitor-bench: $*" >&2; }

[ $# -le 1 ] || die "usage: $0 [BUILD_DIR]"
[ "$(id -u)" -eq 0 ] || die "run as root (auditd, fanotify and picketd need it)"
BUILD=$(cd "${1:-$REPO/build}" 2>/dev/null && pwd) || die "no build directory ${1:-$REPO/build}"
LOAD=$BUILD/src/loadgen/picket-load
PICKETD=$BUILD/src/daemon/picketd
PICKETCTL=$BUILD/src/ctl/picketctl
SCAND=$BUILD/src/scand/picket-scand
[ -x "$LOAD" ] || die "$LOAD missing: build first (make build)"
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
command -v "$PY" >/dev/null || die "python3 is needed"
N=${BENCH_N:-3000}
REPEAT=${BENCH_REPEAT:-3}
CASES=${BENCH_CASES:-bare auditd clamonacc picket}
TIMEOUT=${BENCH_TIMEOUT:-60}
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
for c in $CASES; do
	case $c in bare | auditd | clamonacc | picket) ;; *) die "unknown case '$c' in BENCH_CASES" ;; esac
done

W=
CREATED_POLICY_RC=
AUDITD_PID=
AUDIT_RULES_ADDED=()
AUDIT_SAVED_ENABLED=
AUDIT_SAVED_BACKLOG=
CLAMD_PID=
CLAMONACC_PID=
PICKETD_PID=
SCAND_PID=
PICKET_DEFS=

# ------------------------------------------------------------ clean-up

# stop_pid PID NAME: SIGTERM, up to 20 s, then SIGKILL.  Only our own children.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$2 ($pid) ignored SIGTERM: killed"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Our rules out, our auditd stopped, the audit settings as they were.
audit_restore() {
	local r del
	for r in "${AUDIT_RULES_ADDED[@]}"; do
		case $r in
		-a*) del=${r/#-a /-d } ;;
		*) del=${r/#-w /-W } ;;
		esac
		# shellcheck disable=SC2086 # a rule is words
		auditctl $del >/dev/null 2>&1 || say "could not delete the audit rule: $r"
	done
	AUDIT_RULES_ADDED=()
	if [ -n "$AUDITD_PID" ]; then
		stop_pid "$AUDITD_PID" auditd
		AUDITD_PID=
	fi
	if [ -n "$AUDIT_SAVED_ENABLED" ]; then
		auditctl -e "$AUDIT_SAVED_ENABLED" >/dev/null 2>&1 || say "could not restore audit enabled=$AUDIT_SAVED_ENABLED"
		auditctl -b "$AUDIT_SAVED_BACKLOG" >/dev/null 2>&1 || say "could not restore audit backlog_limit=$AUDIT_SAVED_BACKLOG"
		AUDIT_SAVED_ENABLED=
	fi
}

clam_stop() {
	[ -z "$CLAMONACC_PID" ] || stop_pid "$CLAMONACC_PID" clamonacc
	[ -z "$CLAMD_PID" ] || stop_pid "$CLAMD_PID" clamd
	CLAMONACC_PID=''
	CLAMD_PID=''
}

picket_stop() {
	[ -z "$PICKETD_PID" ] || stop_pid "$PICKETD_PID" picketd
	# picketd stops its scan service; should it not have, the one we saw.
	if [ -n "$SCAND_PID" ] && [ -r "/proc/$SCAND_PID/cmdline" ] &&
		tr '\0' ' ' <"/proc/$SCAND_PID/cmdline" | grep -qF "$W/"; then
		kill -KILL "$SCAND_PID" 2>/dev/null
	fi
	PICKETD_PID=''
	SCAND_PID=''
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	audit_restore
	clam_stop
	picket_stop
	[ -z "$CREATED_POLICY_RC" ] || rm -f /usr/sbin/policy-rc.d
	if [ -n "${BENCH_KEEP:-}" ]; then
		[ -z "$W" ] || say "kept $W"
	else
		[ -z "$W" ] || rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ packages

install_missing() {
	local pkgs=()
	command -v auditd >/dev/null && command -v auditctl >/dev/null || pkgs+=(auditd)
	command -v clamd >/dev/null && command -v clamonacc >/dev/null || pkgs+=(clamav-daemon)
	command -v clamdscan >/dev/null || pkgs+=(clamdscan)
	command -v sigtool >/dev/null || pkgs+=(clamav)
	[ -r /usr/share/clamav-testfiles/clam.exe ] || pkgs+=(clamav-testfiles)
	compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || pkgs+=(faketime)
	[ ${#pkgs[@]} -gt 0 ] || return 0
	say "installing ${pkgs[*]}"
	# Keep the maintainer scripts from starting auditd, clamd and freshclam.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		CREATED_POLICY_RC=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; } ||
		die "apt-get install ${pkgs[*]} failed"
	if [ -n "$CREATED_POLICY_RC" ]; then
		rm -f /usr/sbin/policy-rc.d
		CREATED_POLICY_RC=
	fi
	# Whatever started anyway is stopped: this benchmark leaves no service behind.
	if [ -d /run/systemd/system ]; then
		systemctl stop auditd.service clamav-daemon.service clamav-daemon.socket \
			clamav-clamonacc.service clamav-freshclam.service 2>/dev/null || true
	fi
}

install_missing

# ------------------------------------------------------------ helpers

alive() { kill -0 "$1" 2>/dev/null; }

# cpu_ticks PID...: utime + stime of the processes, summed (0 for a gone one).
cpu_ticks() {
	local p s f t=0
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -ra f <<<"${s##*) }" # f[0] is field 3, the state
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}

fstype() {
	local t
	t=$(findmnt -n -o FSTYPE --target "$1" 2>/dev/null | head -n 1) || t=
	[ -n "$t" ] || t=$(stat -f -c %T "$1")
	echo "$t"
}

# foreign_monitors: the monitoring daemons running that are not ours (at the
# start and end of the runs none of ours is): they watch every case's
# workload too, and skew the comparison.
foreign_monitors() {
	local name pid
	for name in picketd auditd clamonacc clamd; do
		for pid in $(pgrep -x "$name" 2>/dev/null); do
			printf '%s %s; ' "$name" "$pid"
		done
	done
}

# skip CASE REASON: the case is not measured; the reason goes in the table.
skip() {
	say "$1: not measured: $2"
	printf '%s\n' "$2" >"$OUT/$1.skipped"
}

# ------------------------------------------------------------ set-up

W=$(mktemp -d "${TMPDIR:-/tmp}/picket-monbench.XXXXXX")
chmod 0755 "$W" # clamd runs as clamav and must reach its directories
OUT=$W/out
WORK=$W/work # the workload's directory
mkdir -p "$OUT" "$WORK" "$W/bin" "$W/defs"
cp "$LOAD" "$W/bin/"
LOAD=$W/bin/picket-load
HAVE_PICKET=1
for f in "$PICKETD" "$PICKETCTL" "$SCAND"; do
	[ -x "$f" ] || HAVE_PICKET=
done
if [ -n "$HAVE_PICKET" ]; then
	cp "$PICKETD" "$PICKETCTL" "$SCAND" "$W/bin/"
	PICKETD=$W/bin/picketd PICKETCTL=$W/bin/picketctl SCAND=$W/bin/picket-scand
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "building the test definitions"
sh "$REPO/tests/data/make-test-defs.sh" "$W/defs" >/dev/null

# The Python side: counts in audit logs and picket's status, and the report.
cat >"$W/helper.py" <<'PYEOF'
import json, os, re, statistics, sys

def audit_seen(log, pid):
    """Events of the picket-load process PID in auditd's log, by kind."""
    seen = dict(created=0, renamed=0, unlinked=0, execs=0, connects=0)
    kv = re.compile(r'(\w+)=("[^"]*"|\S+)')
    with open(log, errors="replace") as f:
        for line in f:
            if not line.startswith("type=SYSCALL"):
                continue
            d = dict(kv.findall(line))
            key = d.get("key", "").strip('"')
            if not key.startswith("picket_bench_") or d.get("success") != "yes":
                continue
            me, parent = d.get("pid") == pid, d.get("ppid") == pid
            sc = int(d.get("syscall", -1))
            if key == "picket_bench_exec" and parent:
                seen["execs"] += 1
            elif key == "picket_bench_move" and me:
                seen["renamed"] += 1
            elif key == "picket_bench_write" and me and sc in (2, 85, 257, 437):
                seen["created"] += 1  # open, creat, openat, openat2
            elif key == "picket_bench_write" and me and sc in (87, 263):
                seen["unlinked"] += 1  # unlink, unlinkat
            elif key == "picket_bench_connect" and me:
                seen["connects"] += 1
    return seen

PICKET = {"close_write": ("file", "close_write"), "renamed": ("file", "moved_to"),
          "execs": ("process", "exec"), "connects": ("network", "connect")}

def picket_counters(doc):
    """{"state": {monitor: state}, "counts": {kind: n}, "lost": {monitor: n}} or {} without monitors."""
    m = doc.get("monitors")
    if not isinstance(m, dict):
        return {}
    out = {"state": {}, "counts": {}, "lost": {}, "error": {}}
    for mon in ("file", "process", "network"):
        s = m.get(mon, {})
        out["state"][mon] = s.get("state", "absent")
        if s.get("error"):
            out["error"][mon] = s["error"]
        if isinstance(s.get("lost"), int):
            out["lost"][mon] = s["lost"]
    for kind, (mon, ev) in PICKET.items():
        v = m.get(mon, {}).get("events", {}).get(ev)
        if isinstance(v, int):
            out["counts"][kind] = v
    return out

def made(load):
    f = load["files"]
    return dict(created=f["created"], close_write=f["close_write"], renamed=f["renamed"],
                unlinked=f["unlinked"], execs=load["execs"], connects=load["connects"])

def cmd_picket_delta(before, after, load):
    b, a = picket_counters(json.load(open(before))), picket_counters(json.load(open(after)))
    mk = made(json.load(open(load)))
    seen = {k: a["counts"][k] - b["counts"].get(k, 0) for k in a.get("counts", {})}
    lost = {k: a["lost"][k] - b["lost"].get(k, 0) for k in a.get("lost", {})}
    return {"seen": seen, "made": {k: mk[k] for k in seen}, "monitor_lost": lost}

def fmt_ratio(x, base):
    return "%.2f" % (x / base) if base else "-"

def report(out, cases, n, repeat):
    rows, notes = [], []
    base = None
    kinds = ("files", "execs", "connects")
    for case in cases:
        skipped = os.path.join(out, case + ".skipped")
        if os.path.exists(skipped):
            rows.append((case, None, open(skipped).read().strip()))
            continue
        runs = []
        for i in range(1, repeat + 1):
            p = os.path.join(out, "%s.%d.json" % (case, i))
            if os.path.exists(p):
                runs.append((json.load(open(p)), json.load(open(p[:-5] + ".meta.json"))))
        if not runs:
            rows.append((case, None, "no run finished (see the messages above)"))
            continue
        med = {"wall": statistics.median(r[0]["duration_s"] for r in runs)}
        for k in kinds:
            med[k] = statistics.median(r[0]["elapsed_s"][k] for r in runs)
        med["cpu"] = statistics.median(r[1]["daemon_cpu_s"] for r in runs)
        med["load_cpu"] = statistics.median(r[0].get("cpu_s", 0) for r in runs)
        med["walls"] = [r[0]["duration_s"] for r in runs]
        if case == "bare":
            base = med
        rows.append((case, med, runs))
    print("%-10s %7s %5s %8s %5s %8s %5s %10s %5s %10s %5s %10s" % (
        "case", "wall s", "ratio", "files s", "ratio", "execs s", "ratio", "connects s", "ratio",
        "load CPU s", "ratio", "daemon CPU"))
    partial = None
    for case, med, extra in rows:
        if med is None:
            print("%-10s not measured: %s" % (case, extra))
            continue
        b = base or {}
        cols = [med["wall"], fmt_ratio(med["wall"], b.get("wall"))]
        for k in kinds + ("load_cpu",):
            cols += [med[k], fmt_ratio(med[k], b.get(k))]
        st = extra[0][1].get("state", {})
        name = case
        if any(v != "running" for v in st.values()):
            name, partial = case + "*", ", ".join("%s %s" % kv for kv in sorted(st.items()))
        print("%-10s %7.3f %5s %8.3f %5s %8.3f %5s %10.3f %5s %10.3f %5s %10.2f" % (name, *cols, med["cpu"]))
    if partial:
        print("  * not every monitor ran: %s" % partial)
    print("  (median of %d runs; ratio: to bare; wall s of each run:" % repeat)
    for case, med, extra in rows:
        if med is not None:
            print("   %-10s %s" % (case, " ".join("%.3f" % w for w in med["walls"])))
    print("  load CPU s: user+sys of picket-load and its children; daemon CPU: user+sys seconds")
    print("  of the monitoring daemons from the start of a run until its events were counted)")
    print()
    ok = True
    for case, med, runs in rows:
        if med is None or case == "bare":
            continue
        meta = [r[1] for r in runs]
        if case == "clamonacc":
            print("clamonacc: no per-event count (it scans each open in %s with clamd; execs and" % "the work dir")
            print("  connects are outside what it watches)")
            continue
        seen = {}
        mk = {}
        for m in meta:
            for k, v in m.get("seen", {}).items():
                seen[k] = seen.get(k, 0) + v
            for k, v in m.get("made", {}).items():
                mk[k] = mk.get(k, 0) + v
        parts = []
        for k in mk:
            loss = mk[k] - seen.get(k, 0)
            extra = " (+%d from other processes)" % -loss if loss < 0 else ""
            parts.append("%s %d/%d%s" % (k, seen.get(k, 0), mk[k], extra))
            ok = ok and (loss <= 0 or case != "picket")  # a peer's loss is a finding
        total_loss = sum(max(0, mk[k] - seen.get(k, 0)) for k in mk)
        print("%s: events seen/made over %d runs: %s; loss %d" % (case, len(meta), ", ".join(parts), total_loss))
        if case == "auditd":
            print("  auditctl -s lost: +%d during the runs (backlog_limit %s)" % (
                sum(m.get("lost", 0) for m in meta), meta[0].get("backlog_limit", "?")))
        if case == "picket":
            ml = {}
            for m in meta:
                for k, v in m.get("monitor_lost", {}).items():
                    ml[k] = ml.get(k, 0) + v
            if ml:
                print("  picket's own lost counters: " + ", ".join("%s +%d" % kv for kv in sorted(ml.items())))
            st = meta[0].get("state", {})
            if st:
                print("  monitors: " + ", ".join("%s %s" % kv for kv in sorted(st.items())))
    return ok

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "audit-seen":
        print(json.dumps(audit_seen(sys.argv[2], sys.argv[3])))
    elif cmd == "picket-counters":
        print(json.dumps(picket_counters(json.load(sys.stdin))))
    elif cmd == "picket-delta":
        print(json.dumps(cmd_picket_delta(*sys.argv[2:5])))
    elif cmd == "made":
        print(json.dumps(made(json.load(open(sys.argv[2])))))
    elif cmd == "get":  # get EXPR < JSON
        d = json.load(sys.stdin)
        r = eval(sys.argv[2])
        print(r if isinstance(r, str) else json.dumps(r))
    elif cmd == "report":
        sys.exit(0 if report(sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])) else 1)
PYEOF
helper() { "$PY" "$W/helper.py" "$@"; }

# ------------------------------------------------------------ the workload

# load_run CASE I: one run of the workload; its JSON in $OUT/CASE.I.json.
# Fails unless every operation succeeded and the directory is left empty.
load_run() {
	local out=$OUT/$1.$2.json
	"$LOAD" --count "$N" --files max --execs max --connects max --dir "$WORK" \
		>"$out.tmp" 2>"$OUT/$1.$2.err" || {
		cat "$OUT/$1.$2.err" "$out.tmp" >&2
		rm -f "$out.tmp"
		say "$1: picket-load failed"
		return 1
	}
	mv "$out.tmp" "$out"
	[ -z "$(ls -A "$WORK")" ] || {
		say "$1: picket-load left files in $WORK"
		return 1
	}
	LOAD_PID=$(helper get 'd["pid"]' <"$out")
}

# run_once CASE I PRE POST PIDS...: run I of CASE; PRE and POST are functions
# called around it (POST waits for the monitor's events and writes the run's
# meta JSON to $META); the CPU time of PIDS is counted.
run_once() {
	local c=$1 i=$2 pre=$3 post=$4 t0 t1
	shift 4
	META=$OUT/$c.$i.meta.json
	"$pre"
	t0=$(cpu_ticks "$@")
	load_run "$c" "$i" || return 1
	"$post" "$c" "$i"
	t1=$(cpu_ticks "$@")
	helper get "dict(d, daemon_cpu_s=$((t1 - t0)) / $(getconf CLK_TCK))" <"$META" >"$META.tmp"
	mv "$META.tmp" "$META"
	say "$c run $i: $(helper get 'd["duration_s"]' <"$OUT/$c.$i.json") s"
}

nothing() { :; }
bare_post() { echo '{}' >"$META"; }

# ------------------------------------------------------------ auditd

audit_field() { auditctl -s 2>/dev/null | awk -v f="$1" '$1 == f { print $2; exit }'; }

# The rules that match picket's monitors: program execution, renames (moves),
# writes in the workload's directory, connects.  64-bit syscalls: the
# workload is a 64-bit program.
AUDIT_RULES=(
	"-a always,exit -F arch=b64 -S execve,execveat -k picket_bench_exec"
	"-a always,exit -F arch=b64 -S rename,renameat,renameat2 -k picket_bench_move"
	"-w $WORK -p wa -k picket_bench_write"
	"-a always,exit -F arch=b64 -S connect -k picket_bench_connect"
)

auditd_start() {
	local out st pid deadline r
	out=$(auditctl -s 2>&1) || {
		skip auditd "the kernel's audit interface does not answer: auditctl -s: $out"
		return 1
	}
	pid=$(audit_field pid)
	[ "${pid:-0}" = 0 ] || {
		skip auditd "an audit daemon (pid $pid) already runs here; it is left alone"
		return 1
	}
	st=$(audit_field enabled)
	[ "$st" != 2 ] || {
		skip auditd "the audit configuration is locked (enabled 2)"
		return 1
	}
	AUDIT_SAVED_ENABLED=$st
	AUDIT_SAVED_BACKLOG=$(audit_field backlog_limit)
	mkdir -p "$W/audit/log" "$W/audit/plugins.d"
	# auditd -c DIR reads DIR/auditd.conf: our log, no plugins, and never
	# suspend or halt the machine over the log's disk space.
	cat >"$W/audit/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $W/audit/log/audit.log
log_format = RAW
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 4096
num_logs = 2
max_log_file_action = ROTATE
space_left = 75
space_left_action = IGNORE
admin_space_left = 50
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
q_depth = 8000
overflow_action = IGNORE
plugin_dir = $W/audit/plugins.d
end_of_event_timeout = 2
EOF
	auditd -n -c "$W/audit" >"$W/audit/auditd.out" 2>&1 &
	AUDITD_PID=$!
	deadline=$((SECONDS + TIMEOUT))
	until [ "$(audit_field pid)" = "$AUDITD_PID" ]; do
		if ! alive "$AUDITD_PID" || [ $SECONDS -ge $deadline ]; then
			skip auditd "auditd did not register with the kernel: $(tr '\n' ' ' <"$W/audit/auditd.out")"
			audit_restore
			return 1
		fi
		sleep 0.1
	done
	# Debian's default rules (/etc/audit/rules.d/audit.rules) set -b 8192.
	auditctl -b 8192 >/dev/null
	for r in "${AUDIT_RULES[@]}"; do
		# shellcheck disable=SC2086 # a rule is words
		out=$(auditctl $r 2>&1) || {
			skip auditd "auditctl $r: $out"
			audit_restore
			return 1
		}
		AUDIT_RULES_ADDED+=("$r")
	done
	say "auditd $AUDITD_PID: $(auditctl -l | wc -l) rules, backlog_limit $(audit_field backlog_limit)"
}

audit_pre() { AUDIT_LOST0=$(audit_field lost); }

# Waits until auditd wrote the run's events (or TIMEOUT), then records
# seen and made counts and the kernel's lost counter.
audit_post() {
	local load=$OUT/$1.$2.json seen made deadline prev='' cur
	made=$(helper made "$load")
	deadline=$((SECONDS + TIMEOUT))
	while :; do
		seen=$(helper audit-seen "$W/audit/log/audit.log" "$LOAD_PID")
		cur=$(helper get "all(d[k] >= v for k, v in $made.items() if k in d)" <<<"$seen")
		[ "$cur" != true ] || break
		# Stable for a second and the backlog empty: nothing more is coming.
		[ "$seen" != "$prev" ] || [ "$(audit_field backlog)" != 0 ] || break
		[ $SECONDS -lt $deadline ] || break
		prev=$seen
		sleep 1
	done
	helper get "{'seen': d, 'made': {k: v for k, v in $made.items() if k in d}, 'lost': $(audit_field lost) - $AUDIT_LOST0, 'backlog_limit': $(audit_field backlog_limit)}" \
		<<<"$seen" >"$META"
}

case_auditd() {
	command -v auditd >/dev/null || {
		skip auditd "auditd is not installed and could not be"
		return 0
	}
	auditd_start || return 0
	run_once auditd "$1" audit_pre audit_post "$AUDITD_PID" || say "auditd: run $1 failed"
	alive "$AUDITD_PID" || say "warning: auditd died during the runs"
	audit_restore
}

# ------------------------------------------------------------ clamonacc

# clamd (as clamav, on a local socket, the test definitions) and clamonacc
# (root, fanotify permission events on $WORK, descriptors passed to clamd):
# both in the foreground, with a temporary clamd.conf.
clam_start() {
	local c=$W/clam deadline
	getent passwd clamav >/dev/null || {
		skip clamonacc "no clamav user (package clamav-base) for clamd to run as"
		return 1
	}
	mkdir -p "$c/db" "$c/tmp" "$c/sock"
	cp "$W/defs/picket.cud" "$c/db/"
	chown -R clamav "$c/db" "$c/tmp" "$c/sock"
	cat >"$c/clamd.conf" <<EOF
DatabaseDirectory $c/db
LocalSocket $c/sock/clamd.sock
TemporaryDirectory $c/tmp
Foreground yes
User clamav
OnAccessIncludePath $WORK
OnAccessPrevention yes
# clamd's own reads must not wait for clamonacc
OnAccessExcludeUname clamav
EOF
	clamd -c "$c/clamd.conf" >"$c/clamd.log" 2>&1 &
	CLAMD_PID=$!
	deadline=$((SECONDS + TIMEOUT))
	until clamdscan -c "$c/clamd.conf" --ping 1 >/dev/null 2>&1; do
		if ! alive "$CLAMD_PID" || [ $SECONDS -ge $deadline ]; then
			skip clamonacc "clamd did not start: $(tail -n 3 "$c/clamd.log" | tr '\n' ' ')"
			clam_stop
			return 1
		fi
		sleep 0.2
	done
	clamonacc -c "$c/clamd.conf" --foreground --fdpass --log="$c/clamonacc.log" \
		>"$c/clamonacc.out" 2>&1 &
	CLAMONACC_PID=$!
	clam_wait_blocking || return 1
	say "clamd $CLAMD_PID and clamonacc $CLAMONACC_PID: on-access prevention on $WORK"
}

# Ready once clamonacc refuses to open an EICAR copy in $WORK.
clam_wait_blocking() {
	local deadline=$((SECONDS + TIMEOUT)) probe=$WORK/eicar-probe.com
	while :; do
		cp "$W/defs/eicar.com" "$probe" 2>/dev/null || true
		if ! cat "$probe" >/dev/null 2>"$W/clam/probe.err" &&
			grep -q 'Operation not permitted' "$W/clam/probe.err"; then
			rm -f "$probe"
			return 0
		fi
		if ! alive "$CLAMONACC_PID" || [ $SECONDS -ge $deadline ]; then
			rm -f "$probe"
			skip clamonacc "clamonacc does not block EICAR in $WORK: $(tail -n 3 "$W/clam/clamonacc.out" | tr '\n' ' ')"
			clam_stop
			return 1
		fi
		sleep 0.5
	done
}

case_clamonacc() {
	if ! command -v clamonacc >/dev/null || ! command -v clamd >/dev/null; then
		skip clamonacc "clamd or clamonacc is not installed and could not be"
		return 0
	fi
	clam_start || return 0
	run_once clamonacc "$1" nothing bare_post "$CLAMD_PID" "$CLAMONACC_PID" || say "clamonacc: run $1 failed"
	alive "$CLAMONACC_PID" || say "warning: clamonacc died during the runs"
	alive "$CLAMD_PID" || say "warning: clamd died during the runs"
	clam_stop
}

# ------------------------------------------------------------ picket

ctl() { "$PICKETCTL" --run-dir "$W/p/run" "$@"; }

# picket_policy FILE: every monitor on (they are by default; said here so
# that the benchmark does not depend on the defaults), the test definitions
# accepted.  Settings this build's policy does not know are left out.
picket_policy() {
	local line lines=("monitor_file_copies_moves = true;" "device_flow_correlation = true;"
		"monitor_process_execution = true;")
	{
		echo "# monitor benchmark policy"
		echo "install_prefix = \"$W/p/prefix\";"
		echo "scan = { allow_unsigned_defs = true; };"
	} >"$1"
	for line in "${lines[@]}"; do
		cp "$1" "$1.try"
		echo "$line" >>"$1.try"
		if "$PICKETCTL" policy check "$1.try" >/dev/null 2>&1; then
			mv "$1.try" "$1"
		else
			say "picket: this build's policy has no '${line%% *}' (left to its default)"
		fi
	done
	rm -f "$1.try"
}

picket_status() { ctl --json status 2>/dev/null; }

picket_start() {
	local deadline
	mkdir -p "$W/p/state" "$W/p/run" "$W/p/log" "$W/p/prefix"
	[ -e "$W/p/policy.conf" ] || picket_policy "$W/p/policy.conf"
	"$PICKETD" -f -c "$W/p/policy.conf" --state-dir "$W/p/state" --run-dir "$W/p/run" \
		--log-dir "$W/p/log" --prefix "$W/p/prefix" --scand "$SCAND" >>"$W/p/picketd.log" 2>&1 &
	PICKETD_PID=$!
	deadline=$((SECONDS + TIMEOUT))
	until ctl status >/dev/null 2>&1; do
		if ! alive "$PICKETD_PID" || [ $SECONDS -ge $deadline ]; then
			skip picket "picketd did not start: $(tail -n 3 "$W/p/picketd.log" | tr '\n' ' ')"
			picket_stop
			return 1
		fi
		sleep 0.1
	done
	# Installed once: the state directory keeps them across restarts.
	if [ -z "$PICKET_DEFS" ]; then
		ctl defs install "$W/defs/picket.cud" >"$W/p/defs-install" 2>&1 ||
			say "picket: picketctl defs install failed: $(cat "$W/p/defs-install")"
		PICKET_DEFS=1
	fi
	until [ "$(picket_status | helper get 'd["scanner"]["state"]' 2>/dev/null)" = ready ]; do
		[ $SECONDS -lt $deadline ] || { say "picket: the scan service is not ready; measuring anyway"; break; }
		sleep 0.1
	done
	SCAND_PID=$(picket_status | helper get 'd["scanner"].get("pid", "")' 2>/dev/null) || SCAND_PID=
	# The monitors start with picketd; one that failed is retried on a timer.
	picket_wait_monitors $((SECONDS + 10))
}

# picket_wait_monitors DEADLINE: every monitor running, or by DEADLINE those
# that run are measured; skip when this build has no monitors or none runs.
picket_wait_monitors() {
	local st
	while :; do
		alive "$PICKETD_PID" || {
			skip picket "picketd exited: $(tail -n 3 "$W/p/picketd.log" | tr '\n' ' ')"
			picket_stop
			return 1
		}
		st=$(picket_status | helper picket-counters) || st='{}'
		if [ "$st" = '{}' ]; then
			skip picket "this picketd has no real-time monitors yet (no .monitors in picketctl status --json)"
			picket_stop
			return 1
		fi
		[ "$(helper get 'all(v == "running" for v in d["state"].values())' <<<"$st")" != true ] || break
		if [ $SECONDS -ge "$1" ]; then
			if [ "$(helper get 'any(v == "running" for v in d["state"].values())' <<<"$st")" != true ]; then
				skip picket "no monitor runs: $(helper get 'd["state"], d["error"]' <<<"$st")"
				picket_stop
				return 1
			fi
			say "picket: not every monitor runs, measuring the others: $(helper get 'd["state"], d["error"]' <<<"$st")"
			break
		fi
		sleep 0.2
	done
	say "picketd $PICKETD_PID: monitors $(helper get 'd["state"]' <<<"$st")"
}

picket_pre() { picket_status >"$OUT/picket.before.json"; }

# Waits until picket counted the run's events (or they stop coming), then
# records seen against made.
picket_post() {
	local load=$OUT/$1.$2.json d prev='' deadline=$((SECONDS + TIMEOUT))
	while :; do
		picket_status >"$OUT/picket.after.json"
		d=$(helper picket-delta "$OUT/picket.before.json" "$OUT/picket.after.json" "$load")
		[ "$(helper get 'all(d["seen"].get(k, 0) >= v for k, v in d["made"].items())' <<<"$d")" != true ] || break
		[ "$d" != "$prev" ] || break # stable for a second
		[ $SECONDS -lt $deadline ] || break
		prev=$d
		sleep 1
	done
	helper get "dict(d, state=$(helper picket-counters <"$OUT/picket.after.json" | helper get 'd["state"]'))" \
		<<<"$d" >"$META"
}

case_picket() {
	[ -n "$HAVE_PICKET" ] || {
		skip picket "no picketd, picketctl or picket-scand in $BUILD"
		return 0
	}
	picket_start || return 0
	run_once picket "$1" picket_pre picket_post "$PICKETD_PID" ${SCAND_PID:+"$SCAND_PID"} ||
		say "picket: run $1 failed"
	alive "$PICKETD_PID" || say "warning: picketd died during the runs (see $W/p/picketd.log)"
	picket_stop
}

# ------------------------------------------------------------ runs

case_bare() { run_once bare "$1" nothing bare_post || die "bare: run $1 failed"; }

# Round I runs each case once, each round in the order of the one before
# rotated by one: a host whose load drifts (a shared machine) weighs on
# every case alike.  Each round starts and stops the daemons afresh.
say "work directory $WORK on $(fstype "$WORK"); $N operations of each kind a run, $REPEAT rounds"
FOREIGN_BEFORE=$(foreign_monitors)
[ -z "$FOREIGN_BEFORE" ] || say "warning: other monitoring daemons run here: $FOREIGN_BEFORE"
"$LOAD" --count "$N" --files max --execs max --connects max --dir "$WORK" >/dev/null ||
	die "the warm-up run of picket-load failed"
read -ra order <<<"$CASES"
for ((i = 1; i <= REPEAT; i++)); do
	for c in "${order[@]}"; do
		[ -e "$OUT/$c.skipped" ] || "case_$c" "$i"
	done
	order=("${order[@]:1}" "${order[0]}")
done

# ------------------------------------------------------------ report

echo "monitor benchmark: picket-load --count $N (files of 64 B: create+write+close, rename, unlink;"
echo "  execs of /bin/true; loopback TCP connects), one kind after another; $REPEAT rounds of every case"
echo "  $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) cores, work dir on $(fstype "$WORK")"
echo "  load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after"
FOREIGN_AFTER=$(foreign_monitors)
if [ -n "$FOREIGN_BEFORE$FOREIGN_AFTER" ]; then
	echo "  WARNING: other monitoring daemons ran (before: ${FOREIGN_BEFORE:-none}; after: ${FOREIGN_AFTER:-none})"
	echo "  they watch every case's workload too: the comparison is skewed"
fi
echo
helper report "$OUT" "$CASES" "$N" "$REPEAT"
