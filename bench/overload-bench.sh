#!/usr/bin/env bash
# overload-bench.sh [BUILD_DIR] - how much event load picket takes before it
# loses events, what each event costs it, and what a busy excluded process
# beside the workload costs, against auditd and fatrace, in one run.  As
# root.  See README.md ("Overload benchmark").
#
#   BUILD_DIR   the meson build to measure (default: the repository's build/)
#
# Environment:
#   BENCH_RATES="..."     the rate steps (operations a second of each kind;
#                         'max' as fast as possible) (default: 500 1000 2000 4000 8000 16000 max)
#   BENCH_DURATION=S      seconds of each step (default 5)
#   BENCH_FIXED_RATE=R    the step whose CPU time is reported a million events (default 1000)
#   BENCH_N=N             operations of each kind in the overhead workload (default 1000)
#   BENCH_REPEAT=R        rounds of the overhead cases, interleaved; medians (default 2)
#   BENCH_AUDIT_BACKLOG=N auditd's backlog_limit (default 8192, Debian's)
#   BENCH_CASES="..."     the sweeps, in this order (default: picket auditd picket-files fatrace)
#   BENCH_KEEP=1          keep the temporary directory
#   BENCH_TIMEOUT=S       how long a daemon may take to be ready, and its
#                         events to arrive after a step (default 30)
#
# Steps: installs auditd and fatrace with apt-get when missing (services kept
# from starting); mounts a private tmpfs for the file workloads; for each
# sweep starts its monitor, runs picket-load --duration S at each rate in
# turn (stopping after the first step that lost events), stops the monitor;
# then the overhead cases (bare, picket with a connect flooder excluded,
# picket with the same flooder not excluded), interleaved; prints one table.
# On exit, failure, SIGINT and SIGTERM: our audit rules are deleted, our
# auditd is stopped and the audit settings it changed are put back; picketd,
# fatrace and the flooder (our PIDs only) are stopped; the tmpfs is
# unmounted; the temporary directory is removed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

die() {
	echo "overload-bench: $*" >&2
	exit 1
}
say() { echo "overload-bench: $*" >&2; }

[ $# -le 1 ] || die "usage: $0 [BUILD_DIR]"
[ "$(id -u)" -eq 0 ] || die "run as root (auditd, fanotify and picketd need it)"
BUILD=$(cd "${1:-$REPO/build}" 2>/dev/null && pwd) || die "no build directory ${1:-$REPO/build}"
LOAD=$BUILD/src/loadgen/picket-load
PICKETD=$BUILD/src/daemon/picketd
PICKETCTL=$BUILD/src/ctl/picketctl
SCAND=$BUILD/src/scand/picket-scand
for f in "$LOAD" "$PICKETD" "$PICKETCTL" "$SCAND"; do
	[ -x "$f" ] || die "$f missing: build first (make build)"
done
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
command -v "$PY" >/dev/null || die "python3 is needed"
RATES=${BENCH_RATES:-500 1000 2000 4000 8000 16000 max}
DURATION=${BENCH_DURATION:-5}
FIXED=${BENCH_FIXED_RATE:-1000}
N=${BENCH_N:-1000}
REPEAT=${BENCH_REPEAT:-2}
BACKLOG=${BENCH_AUDIT_BACKLOG:-8192}
CASES=${BENCH_CASES:-picket auditd picket-files fatrace}
TIMEOUT=${BENCH_TIMEOUT:-30}
for v in "$DURATION" "$N" "$REPEAT" "$BACKLOG" "$TIMEOUT"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "'$v': BENCH_DURATION, BENCH_N, BENCH_REPEAT, BENCH_AUDIT_BACKLOG and BENCH_TIMEOUT must be positive integers"
done
for r in $RATES; do
	[[ $r =~ ^([1-9][0-9]*|max)$ ]] || die "'$r' in BENCH_RATES: a positive integer or max"
done
[[ " $RATES " == *" $FIXED "* ]] || die "BENCH_FIXED_RATE=$FIXED is not one of BENCH_RATES"
for c in $CASES; do
	case $c in picket | auditd | picket-files | fatrace) ;; *) die "unknown case '$c' in BENCH_CASES" ;; esac
done

W=
MNT=
CREATED_POLICY_RC=
AUDITD_PID=
AUDIT_RULES_ADDED=()
AUDIT_SAVED_ENABLED=
AUDIT_SAVED_BACKLOG=
PICKETD_PID=
SCAND_PID=
FATRACE_PID=
FLOOD_PID=

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
		del=${r/#-a /-d }
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

picket_stop() {
	[ -z "$PICKETD_PID" ] || stop_pid "$PICKETD_PID" picketd
	if [ -n "$SCAND_PID" ] && [ -r "/proc/$SCAND_PID/cmdline" ] &&
		tr '\0' ' ' <"/proc/$SCAND_PID/cmdline" | grep -qF "$W/"; then
		kill -KILL "$SCAND_PID" 2>/dev/null
	fi
	PICKETD_PID=''
	SCAND_PID=''
}

fatrace_stop() {
	[ -z "$FATRACE_PID" ] || stop_pid "$FATRACE_PID" fatrace
	FATRACE_PID=''
}

flood_stop() {
	[ -z "$FLOOD_PID" ] || stop_pid "$FLOOD_PID" picket-load
	FLOOD_PID=''
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	flood_stop
	audit_restore
	fatrace_stop
	picket_stop
	[ -z "$CREATED_POLICY_RC" ] || rm -f /usr/sbin/policy-rc.d
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		umount "$MNT" || say "could not unmount $MNT"
	fi
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
	command -v fatrace >/dev/null || pkgs+=(fatrace)
	# The test definitions (tests/data/make-test-defs.sh): without them the
	# scan service does not start and the file monitor's scan queue fills.
	command -v sigtool >/dev/null || pkgs+=(clamav)
	[ -r /usr/share/clamav-testfiles/clam.exe ] || pkgs+=(clamav-testfiles)
	compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || pkgs+=(faketime)
	[ ${#pkgs[@]} -gt 0 ] || return 0
	say "installing ${pkgs[*]}"
	# Keep the maintainer scripts from starting auditd.
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
	if [ -d /run/systemd/system ]; then
		systemctl stop auditd.service clamav-freshclam.service 2>/dev/null || true
	fi
}

install_missing

# ------------------------------------------------------------ helpers

alive() { kill -0 "$1" 2>/dev/null; }

# cpu_ticks PID...: utime + stime of the processes, summed (0 for a gone one).
cpu_ticks() {
	local p s st t=0
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -ra st <<<"${s##*) }" # st[0] is field 3, the state
		t=$((t + st[11] + st[12]))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

foreign_monitors() {
	local name pid
	for name in picketd auditd fatrace clamonacc; do
		for pid in $(pgrep -x "$name" 2>/dev/null); do
			printf '%s %s; ' "$name" "$pid"
		done
	done
}

skip() {
	say "$1: not measured: $2"
	printf '%s\n' "$2" >"$OUT/$1.skipped"
}

# ------------------------------------------------------------ set-up

W=$(mktemp -d "${TMPDIR:-/tmp}/picket-ovlbench.XXXXXX")
OUT=$W/out
MNT=$W/mnt # a private tmpfs: the file workloads, and all picket's file monitor watches
chmod 0755 "$W" # picket-scand runs unprivileged and must reach the definitions
mkdir -p "$OUT" "$MNT" "$W/bin" "$W/flood"
mount -t tmpfs -o size=64m,mode=0755 picket-ovlbench "$MNT"
WORK=$MNT/work
mkdir -p "$WORK"
cp "$LOAD" "$PICKETD" "$PICKETCTL" "$SCAND" "$W/bin/"
LOAD=$W/bin/picket-load PICKETD=$W/bin/picketd PICKETCTL=$W/bin/picketctl SCAND=$W/bin/picket-scand
# The flooder is another copy: picket's process exclusions are by
# executable (device, inode), and the measured workload must stay monitored.
cp "$LOAD" "$W/flood/picket-flood"
FLOOD=$W/flood/picket-flood
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "building the test definitions"
mkdir -p "$W/defs"
sh "$REPO/tests/data/make-test-defs.sh" "$W/defs" >/dev/null
FOREIGN_BEFORE=$(foreign_monitors)
[ -z "$FOREIGN_BEFORE" ] || say "warning: other monitoring daemons run here: $FOREIGN_BEFORE"

cat >"$W/helper.py" <<'PYEOF'
import json, os, statistics, sys

def picket_loss(doc):
    """Counters that grow when picket loses an event, and the events it handled."""
    m = doc.get("monitors", {})
    loss, ev = {}, {}
    for mon in ("process", "network"):
        s = m.get(mon, {})
        for k in ("dropped", "lost"):
            if isinstance(s.get(k), int):
                loss["%s.%s" % (mon, k)] = s[k]
        for k, v in s.get("events", {}).items():
            ev["%s.%s" % (mon, k)] = v
        ev["%s.excluded" % mon] = s.get("excluded", 0)
    f = m.get("file", {})
    for k in ("queue_full", "queue_full_critical", "overflow", "perm_overflow"):
        if isinstance(f.get(k), int):
            loss["file." + k] = f[k]
    for k, v in f.get("events", {}).items():
        ev["file." + k] = v
    o = m.get("overload", {})
    loss["overload.dropped"] = o.get("dropped", 0)
    return loss, ev, o

def picket_step(before, after, load):
    b, a, l = json.load(open(before)), json.load(open(after)), json.load(open(load))
    lb, eb, _ = picket_loss(b)
    la, ea, o = picket_loss(a)
    lost = {k: v - lb.get(k, 0) for k, v in la.items() if v - lb.get(k, 0)}
    ev = {k: v - eb.get(k, 0) for k, v in ea.items()}
    seen = {"execs": ev.get("process.exec", 0), "connects": ev.get("network.connect", 0),
            "close_write": ev.get("file.close_write", 0)}
    made = {"execs": l["execs"], "connects": l["connects"], "close_write": l["files"]["close_write"]}
    short = {k: made[k] - seen[k] for k in made if made[k] > seen[k]}
    handled = sum(v for k, v in ev.items() if not k.endswith(".excluded"))
    excl = sum(v for k, v in ev.items() if k.endswith(".excluded"))
    return {"excluded": excl, "lost": lost, "short": short, "seen": seen, "made": made, "handled": handled,
            "mode": o.get("mode"), "top": [t.get("exe") for t in o.get("top_sources", [])][:3]}

def fatrace_count(log, pid):
    n = 0
    tag = "(%s):" % pid
    with open(log, errors="replace") as f:
        for line in f:
            if tag in line and ": C" in line:
                n += 1
    return n

def ops(load):
    return load["execs"] + load["connects"] + load["files"]["close_write"]

def report(out, cases, rates, fixed, n, repeat):
    ok = True
    print("1. event rate sweep (picket-load --duration S at each rate; stops after the first lossy step)")
    print("   %-13s %6s %11s %9s  %s" % ("case", "rate", "achieved/s", "daemon s", "loss"))
    best, cpu = {}, {}
    for c in cases:
        sk = os.path.join(out, c + ".skipped")
        if os.path.exists(sk):
            print("   %-13s not measured: %s" % (c, open(sk).read().strip()))
            continue
        best[c] = None
        for r in rates:
            p = os.path.join(out, "%s.%s.json" % (c, r))
            if not os.path.exists(p):
                continue
            d = json.load(open(p))
            l = d["load"]
            ach = ops(l) / max(l["duration_s"], 1e-9)
            loss = d["loss"]
            print("   %-13s %6s %11.0f %9.2f  %s" % (c, r, ach, d["cpu_s"], loss if loss else "none"))
            if not loss:
                best[c] = (r, ach)
            if r == fixed:
                cpu[c] = (d["cpu_s"], ops(l), d.get("handled"))
    print()
    print("   highest step with zero loss:")
    for c, b in best.items():
        print("   %-13s %s" % (c, "none" if b is None else "rate %s (%.0f operations/s achieved)" % b))
    print()
    print("2. daemon CPU seconds per million workload operations at rate %s (each kind)" % fixed)
    for c, (s, o, h) in cpu.items():
        extra = "" if h is None else "; %.1f per million events picket counted (%d: forks, exits, accepts too)" % (s / h * 1e6 if h else 0, h)
        print("   %-13s %7.1f  (%.2f CPU s, %d operations%s)" % (c, s / o * 1e6 if o else 0, s, o, extra))
    print()
    print("3. workload (picket-load --count %d --files max --execs max --connects max), median of %d" % (n, repeat))
    print("   %-24s %8s %6s %8s %6s %10s %6s %9s  %s" % ("case", "wall s", "ratio", "execs s", "ratio", "connects s", "ratio", "daemon s", "picket loss / flooder"))
    base = None
    for c in ("bare", "flood", "excluded", "not-excluded"):
        runs = []
        for i in range(1, repeat + 1):
            p = os.path.join(out, "ovh.%s.%d.json" % (c, i))
            if os.path.exists(p):
                runs.append(json.load(open(p)))
        if not runs:
            print("   %-24s no run finished" % c)
            continue
        wall = statistics.median(r["load"]["duration_s"] for r in runs)
        ex = statistics.median(r["load"]["elapsed_s"]["execs"] for r in runs)
        co = statistics.median(r["load"]["elapsed_s"]["connects"] for r in runs)
        cs = statistics.median(r.get("cpu_s", 0) for r in runs)
        if base is None:
            base = (wall, ex, co)
        st = [r["step"] for r in runs if r.get("step")]
        fls = ("picket: %d events handled, %d excluded in the kernel" % (statistics.median(x["handled"] for x in st), statistics.median(x["excluded"] for x in st))) if st else ""
        loss = [r.get("loss") for r in runs if r.get("loss")]
        name = {"bare": "bare", "flood": "flooder, no monitor", "excluded": "picket, flood excluded", "not-excluded": "picket, flood watched"}[c]
        print("   %-24s %8.3f %6.2f %8.3f %6.2f %10.3f %6.2f %9.2f  %s %s" % (
            name, wall, wall / base[0], ex, ex / base[1], co, co / base[2], cs,
            "loss %s" % loss if loss else ("" if c in ("bare", "flood") else "no loss;"), fls))
    return ok

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "picket-step":
        print(json.dumps(picket_step(*sys.argv[2:5])))
    elif cmd == "fatrace-count":
        print(fatrace_count(sys.argv[2], sys.argv[3]))
    elif cmd == "get":
        d = json.load(sys.stdin)
        r = eval(sys.argv[2])
        print(r if isinstance(r, str) else json.dumps(r))
    elif cmd == "report":
        sys.exit(0 if report(sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), sys.argv[5],
                             int(sys.argv[6]), int(sys.argv[7])) else 1)
PYEOF
helper() { "$PY" "$W/helper.py" "$@"; }

# ------------------------------------------------------------ workloads

# load_rate KIND R OUTFILE: picket-load --duration at rate R.  KIND "proc":
# connects at R and execs at R/10 (an exec costs this machine about 1 ms);
# "files": file cycles at R in the tmpfs.
load_rate() {
	local args
	if [ "$1" = proc ]; then
		if [ "$2" = max ]; then args=(--execs max --connects max); else args=(--execs $(($2 / 10 > 0 ? $2 / 10 : 1)) --connects "$2"); fi
	else
		args=(--files "$2")
	fi
	"$LOAD" --duration "$DURATION" "${args[@]}" --dir "$WORK" >"$3" 2>"$3.err" || {
		say "picket-load --duration $DURATION ${args[*]} failed: $(head -c 300 "$3.err")"
		return 1
	}
	LOAD_PID=$(helper get 'd["pid"]' <"$3")
}

# ------------------------------------------------------------ auditd

audit_field() { auditctl -s 2>/dev/null | awk -v f="$1" '$1 == f { print $2; exit }'; }

AUDIT_RULES=(
	"-a always,exit -F arch=b64 -S execve,execveat -k picket_ovl_exec"
	"-a always,exit -F arch=b64 -S connect -k picket_ovl_connect"
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
	auditctl -b "$BACKLOG" >/dev/null
	for r in "${AUDIT_RULES[@]}"; do
		# shellcheck disable=SC2086 # a rule is words
		out=$(auditctl $r 2>&1) || {
			skip auditd "auditctl $r: $out"
			audit_restore
			return 1
		}
		AUDIT_RULES_ADDED+=("$r")
	done
	say "auditd $AUDITD_PID: $(auditctl -l | wc -l) rules, backlog_limit $(audit_field backlog_limit), backlog_wait_time $(audit_field backlog_wait_time)"
}

# audit_step R: one step; its JSON in $OUT/auditd.R.json.
audit_step() {
	local o=$OUT/auditd.$1.json lost0 lost1 t0 t1 deadline
	lost0=$(audit_field lost)
	t0=$(cpu_ticks "$AUDITD_PID")
	load_rate proc "$1" "$o.load" || return 1
	deadline=$((SECONDS + TIMEOUT))
	until [ "$(audit_field backlog)" = 0 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
	sleep 1 # auditd's own queue
	t1=$(cpu_ticks "$AUDITD_PID")
	lost1=$(audit_field lost)
	helper get "{'load': d, 'cpu_s': $((t1 - t0)) / $HZ, 'loss': ({'kernel lost': $lost1 - $lost0} if $lost1 != $lost0 else {})}" \
		<"$o.load" >"$o"
}

# ------------------------------------------------------------ fatrace

fatrace_start() {
	local deadline
	# -c: only the mount of the current directory (the private tmpfs);
	# -f C: close-after-write, one a file cycle.
	(cd "$MNT" && exec fatrace -c -f C -o "$OUT/fatrace.log") 2>"$W/fatrace.err" &
	FATRACE_PID=$!
	deadline=$((SECONDS + TIMEOUT))
	# Ready once it reports a probe write.
	until [ -s "$OUT/fatrace.log" ] && grep -q 'fatrace-probe' "$OUT/fatrace.log"; do
		if ! alive "$FATRACE_PID" || [ $SECONDS -ge $deadline ]; then
			skip fatrace "fatrace does not report writes in $MNT: $(head -c 300 "$W/fatrace.err")"
			fatrace_stop
			return 1
		fi
		echo x >"$MNT/fatrace-probe"
		sleep 0.2
	done
	rm -f "$MNT/fatrace-probe"
	say "fatrace $FATRACE_PID: close-write events on $MNT"
}

fatrace_step() {
	local o=$OUT/fatrace.$1.json t0 t1 seen prev=-1 made deadline
	t0=$(cpu_ticks "$FATRACE_PID")
	load_rate files "$1" "$o.load" || return 1
	made=$(helper get 'd["files"]["close_write"]' <"$o.load")
	deadline=$((SECONDS + TIMEOUT))
	while :; do
		seen=$(helper fatrace-count "$OUT/fatrace.log" "$LOAD_PID")
		if [ "$seen" -ge "$made" ] || [ "$seen" = "$prev" ] || [ $SECONDS -ge $deadline ]; then break; fi
		prev=$seen
		sleep 1
	done
	t1=$(cpu_ticks "$FATRACE_PID")
	helper get "{'load': d, 'cpu_s': $((t1 - t0)) / $HZ, 'loss': ({'missing lines': $made - $seen} if $seen < $made else {})}" \
		<"$o.load" >"$o"
}

# ------------------------------------------------------------ picket

ctl() { "$PICKETCTL" --run-dir "$W/p/run" "$@"; }
picket_status() { ctl --json status 2>/dev/null; }

# picket_start [EXCLUDED_EXE]: process and network monitors on, the file
# monitor only on the private tmpfs.
picket_start() {
	local deadline p=$W/p
	rm -rf "$p"
	mkdir -p "$p/state" "$p/run" "$p/log" "$p/prefix"
	cat >"$p/policy.conf" <<EOF
# overload benchmark policy
install_prefix = "$p/prefix";
scan = { allow_unsigned_defs = true; };
monitor_process_execution = true;
device_flow_correlation = true;
monitor_file_copies_moves = true;
file_monitor = { mounts_include = [ "$MNT" ]; };
process_exclusions = [ ${1:+\"$1\"} ];
EOF
	"$PICKETCTL" policy check "$p/policy.conf" >"$p/check" 2>&1 || die "picket policy: $(cat "$p/check")"
	"$PICKETD" -f -c "$p/policy.conf" --state-dir "$p/state" --run-dir "$p/run" \
		--log-dir "$p/log" --prefix "$p/prefix" --scand "$SCAND" >>"$p/picketd.log" 2>&1 &
	PICKETD_PID=$!
	deadline=$((SECONDS + TIMEOUT))
	until [ "$(picket_status | helper get '[d["monitors"][m]["state"] for m in ("process", "network", "file")]' 2>/dev/null)" = '["running", "running", "running"]' ]; do
		if ! alive "$PICKETD_PID" || [ $SECONDS -ge $deadline ]; then
			skip "${2:-picket}" "picketd's monitors did not all start: $(tail -n 3 "$p/picketd.log" | tr '\n' ' ')"
			picket_stop
			return 1
		fi
		sleep 0.2
	done
	ctl defs install "$W/defs/picket.cud" >"$p/defs-install" 2>&1 ||
		say "picket: picketctl defs install failed: $(cat "$p/defs-install")"
	until [ "$(picket_status | helper get 'd["scanner"]["state"]' 2>/dev/null)" = ready ]; do
		[ $SECONDS -lt "$deadline" ] || {
			say "picket: the scan service is not ready; measuring anyway"
			break
		}
		sleep 0.1
	done
	SCAND_PID=$(picket_status | helper get 'str(d.get("scanner", {}).get("pid", ""))' 2>/dev/null) || SCAND_PID=
	say "picketd $PICKETD_PID: process, network and file ($MNT) monitors running${1:+, $1 excluded}"
}

# picket_wait LOADJSON BEFORE AFTER: until picket counted the step's
# events, they stop coming, or TIMEOUT.
picket_wait() {
	local d prev='' deadline=$((SECONDS + TIMEOUT))
	while :; do
		picket_status >"$3"
		d=$(helper picket-step "$2" "$3" "$1")
		[ "$(helper get 'not d["short"]' <<<"$d")" != true ] || break
		[ "$d" != "$prev" ] || break
		[ $SECONDS -lt $deadline ] || break
		prev=$d
		sleep 1
	done
	echo "$d"
}

# picket_step CASE KIND R
picket_step() {
	local o=$OUT/$1.$3.json t0 t1 d
	picket_status >"$o.before"
	t0=$(cpu_ticks "$PICKETD_PID")
	load_rate "$2" "$3" "$o.load" || return 1
	d=$(picket_wait "$o.load" "$o.before" "$o.after")
	t1=$(cpu_ticks "$PICKETD_PID")
	# Loss: a loss counter grew, or fewer events of the workload's kinds
	# than it made (picket counts every process's events, so this is a floor).
	helper get "{'load': d['load'], 'cpu_s': $((t1 - t0)) / $HZ, 'handled': d['step']['handled'], 'loss': dict(d['step']['lost'], **{'short ' + k: v for k, v in d['step']['short'].items()}), 'mode': d['step']['mode']}" \
		<<<"{\"load\": $(cat "$o.load"), \"step\": $d}" >"$o"
}

# ------------------------------------------------------------ sweeps

# sweep CASE STEPFN ARGS...: each rate in turn; stops after a lossy step.
sweep() {
	local c=$1 fn=$2 r loss
	shift 2
	for r in $RATES; do
		"$fn" "$@" "$r" || {
			say "$c: step $r failed"
			return 0
		}
		loss=$(helper get 'd["loss"]' <"$OUT/$c.$r.json")
		say "$c rate $r: $(helper get '"%.0f ops/s achieved" % ((d["load"]["execs"] + d["load"]["connects"] + d["load"]["files"]["close_write"]) / d["load"]["duration_s"])' <"$OUT/$c.$r.json"), daemon $(helper get 'd["cpu_s"]' <"$OUT/$c.$r.json") CPU s, loss $loss"
		if [ "$loss" != '{}' ] && [ "$r" != "$FIXED" ]; then
			# The fixed-rate step is still run for its CPU figure.
			case " $RATES " in *" $r "*" $FIXED "*) ;; *) return 0 ;; esac
		fi
	done
}

case_picket() {
	picket_start "" picket || return 0
	sweep picket picket_step picket proc
	alive "$PICKETD_PID" || say "warning: picketd died (see $W/p/picketd.log)"
	picket_stop
}

case_picket_files() {
	picket_start "" picket-files || return 0
	sweep picket-files picket_step picket-files files
	picket_stop
}

case_auditd() {
	command -v auditd >/dev/null || {
		skip auditd "auditd is not installed and could not be"
		return 0
	}
	auditd_start || return 0
	sweep auditd audit_step
	alive "$AUDITD_PID" || say "warning: auditd died during the steps"
	audit_restore
}

case_fatrace() {
	command -v fatrace >/dev/null || {
		skip fatrace "fatrace is not installed and could not be"
		return 0
	}
	fatrace_start || return 0
	sweep fatrace fatrace_step
	fatrace_stop
}

# ------------------------------------------------------------ overhead

# ovh_run CASE I: the fixed workload, with the flooder beside it for the
# other cases ("flood": the flooder alone, no monitor).  The flooder's connects are counted by picket: as excluded
# (in the kernel) in one case, as events in the other.
ovh_run() {
	local c=$1 i=$2 o=$OUT/ovh.$1.$2.json t0=0 t1=0 d='{}'
	case $c in
	excluded) picket_start "$FLOOD" "ovh-$c" || return 1 ;;
	not-excluded) picket_start "" "ovh-$c" || return 1 ;;
	esac
	if [ "$c" != bare ]; then
		"$FLOOD" --duration 600 --connects max >/dev/null 2>&1 &
		FLOOD_PID=$!
		sleep 1 # the flooder at full speed
	fi
	if [ -n "$PICKETD_PID" ]; then
		picket_status >"$o.before"
		t0=$(cpu_ticks "$PICKETD_PID")
	fi
	"$LOAD" --count "$N" --files max --execs max --connects max --dir "$WORK" >"$o.load" 2>"$o.err" ||
		say "ovh $c: picket-load failed: $(head -c 300 "$o.err")"
	if [ -n "$PICKETD_PID" ]; then
		t1=$(cpu_ticks "$PICKETD_PID")
		picket_status >"$o.after"
		d=$(helper picket-step "$o.before" "$o.after" "$o.load")
	fi
	flood_stop
	picket_stop
	helper get "{'load': d['load'], 'cpu_s': $((t1 - t0)) / $HZ, 'loss': d['step'].get('lost', {}), 'step': d['step']}" \
		<<<"{\"load\": $(cat "$o.load"), \"step\": $d}" >"$o"
	say "ovh $c run $i: $(helper get 'd["load"]["duration_s"]' <"$o") s"
}

# ------------------------------------------------------------ runs

say "rates '$RATES', $DURATION s a step; workload dir $WORK (tmpfs)"
"$LOAD" --count 200 --files max --execs max --connects max --dir "$WORK" >/dev/null ||
	die "the warm-up run of picket-load failed"
for c in $CASES; do
	"case_${c//-/_}"
done
order=(bare flood excluded not-excluded)
for ((i = 1; i <= REPEAT; i++)); do
	for c in "${order[@]}"; do
		ovh_run "$c" "$i" || say "ovh $c run $i failed"
	done
	order=("${order[@]:1}" "${order[0]}")
done

# ------------------------------------------------------------ report

echo "overload benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) cores"
echo "  steps of $DURATION s: picket and auditd get connects at R/s and execs at R/10 per s (execve and connect events);"
echo "  picket-files and fatrace get file cycles at R/s in a private tmpfs (fatrace: close-write events only)"
echo "  auditd backlog_limit $BACKLOG; load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after"
FOREIGN_AFTER=$(foreign_monitors)
if [ -n "$FOREIGN_BEFORE$FOREIGN_AFTER" ]; then
	echo "  WARNING: other monitoring daemons ran (before: ${FOREIGN_BEFORE:-none}; after: ${FOREIGN_AFTER:-none})"
fi
echo
helper report "$OUT" "$CASES" "$RATES" "$FIXED" "$N" "$REPEAT"
