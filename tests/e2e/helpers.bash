# helpers.bash - shared set-up of picket's end-to-end tests (bats >= 1.5).
#
# Every test gets its own temporary directory $T (0755, so that the
# unprivileged users of control.bats can reach the socket) with:
#   $POLICY   a policy: recheck_interval = 1, install_prefix = $PREFIX, the
#             file and process monitors off (their own tests turn them on)
#   $PREFIX   an install tree: bin, lib, lib/btf, share, all root 0755
#   $ROOT     a host view: etc/{passwd,group,os-release} (Debian 12, user and
#             group picket-scan 990:990), proc/sys/kernel/osrelease
#             (6.1.0-13-amd64), proc/meminfo, sys/kernel/btf/vmlinux
#   $STATE $RUN $LOG   picketd's state, run and log directories
#   $DLOG     picketd's stderr (-f), kept across restarts within a test
# The default teardown stops picketd with SIGTERM and fails the test, with
# picketd's log, unless it exited 0 without a sanitizer report; it then
# kills what the test left in the background, unmounts, removes groups and
# the temporary directory.
#
# Main functions: start_picketd, stop_picketd, ctl, wait_for, wait_recheck,
# put (atomic file replacement in the view), write_policy, fault_* and
# active_faults (--json through Python), events_py/last_event/count_events/
# fault_history (the event log), metric_is, expect_health, assert_*.
# install.bats uses start_picketd, stop_picketd and ctl with its own
# PICKETD, PICKETCTL, POLICY, STATE, RUN, LOG and DLOG.
#
# PICKET_BUILD is the build directory (default: the repository's build/).

bats_require_minimum_version 1.5.0

PICKET_BUILD=${PICKET_BUILD:-$BATS_TEST_DIRNAME/../../build}
PICKETD=$PICKET_BUILD/src/daemon/picketd
PICKETCTL=$PICKET_BUILD/src/ctl/picketctl
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# The longest any condition is waited for, in seconds.  Nothing in these
# tests needs more than the 1 s recheck interval; the margin is for loaded
# machines and sanitized builds.
E2E_TIMEOUT=${E2E_TIMEOUT:-10}
# pyenv shims cost half a second a call: prefer the system interpreter.
if [ -x /usr/bin/python3 ]; then
	PYTHON=${PYTHON:-/usr/bin/python3}
else
	PYTHON=${PYTHON:-python3}
fi
# The release the prepared host view reports.
VIEW_RELEASE=6.1.0-13-amd64
# The faults of the scan service (6, 7), of its definitions (20) and of the
# real-time monitors (8, 9, 22).  These tests install no definitions, so
# fault 7 may be active in all of them, and a prepared host view (an old
# kernel, no BTF) stops the eBPF monitors; they leave these faults and their
# events out of what they compare (the scan service's and the monitors' own
# tests cover them): active_faults, expect_health,
# expect_severity_count and events_py's ev do.
OTHER_FAULTS="6 7 20 8 9 22"
# Severities of the faults these tests raise (the catalogue's).
declare -gA SEVERITY=([5]=major [11]=major [16]=critical [19]=major [21]=major)
# Sanitizer reports fail the test in teardown; harmless when not sanitized.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

PICKETD_PID=
BG_PIDS=()
MOUNTS=()
GROUPS_ADDED=()

# ---------------------------------------------------------------- assertions

fail() {
	printf '%s\n' "$@" >&2
	return 1
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	[ "$1" = "$2" ] && return 0
	fail "${3:-value} differs" "  expected: '$2'" "  actual:   '$1'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	case "$1" in
	*"$2"*) return 0 ;;
	esac
	fail "${3:-text} does not contain '$2'" "  text: '$1'"
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-text} contains '$2'" "  text: '$1'" ;;
	esac
	return 0
}

# assert_match TEXT ERE [WHAT]
assert_match() {
	[[ $1 =~ $2 ]] && return 0
	fail "${3:-text} does not match /$2/" "  text: '$1'"
}

# ------------------------------------------------------------- the test tree

setup() {
	e2e_setup
}

teardown() {
	e2e_teardown
}

e2e_setup() {
	[ -x "$PICKETD" ] || fail "no picketd in $PICKET_BUILD (set PICKET_BUILD)"
	[ -x "$PICKETCTL" ] || fail "no picketctl in $PICKET_BUILD (set PICKET_BUILD)"
	T=$(mktemp -d /tmp/picket-e2e.XXXXXX)
	chmod 0755 "$T"
	PREFIX=$T/prefix
	ROOT=$T/root
	STATE=$T/state
	RUN=$T/run
	LOG=$T/log
	POLICY=$T/policy.conf
	DLOG=$T/picketd.log
	EVENTS=$LOG/events.jsonl
	METRICS=$STATE/picket.prom
	: >"$DLOG"
	install -d -m 0755 "$PREFIX" "$PREFIX/bin" "$PREFIX/lib" "$PREFIX/lib/btf" "$PREFIX/share"
	make_host_root
	write_policy
}

e2e_teardown() {
	local rc=0 st pid m g

	if [ -n "$PICKETD_PID" ]; then
		stop_picketd && st=0 || st=$?
		if [ "$st" -ne 0 ]; then
			echo "picketd did not exit 0 on SIGTERM (status $st)"
			rc=1
		fi
	fi
	if [ -s "${DLOG:-}" ] &&
		grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$DLOG"; then
		echo "picketd's log has a sanitizer report"
		rc=1
	fi
	# Also when the test itself failed (bats sets BATS_TEST_COMPLETED on success).
	if [ "$rc" -ne 0 ] || { [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -s "${DLOG:-}" ]; }; then
		echo "---- picketd log ($DLOG)"
		cat "$DLOG"
		echo "----"
	fi
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BG_PIDS=()
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" || rc=1
	done
	MOUNTS=()
	for g in "${GROUPS_ADDED[@]}"; do
		groupdel "$g" 2>/dev/null || true
	done
	GROUPS_ADDED=()
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		rm -rf "$T" || rc=1
	fi
	return "$rc"
}

# write_policy [LINE...]: the test policy, recheck_interval = 1 and
# install_prefix = $PREFIX unless a LINE sets them, then the LINEs.
# Written to a new file moved over the old one.
write_policy() {
	local base=("recheck_interval = 1;" "install_prefix = \"$PREFIX\";"
		"monitor_file_copies_moves = false;" "monitor_process_execution = false;") b l skip
	{
		echo "# picket e2e test policy"
		for b in "${base[@]}"; do
			skip=
			for l in "$@"; do
				[ "${l%%[ =]*}" = "${b%%[ =]*}" ] && skip=1
			done
			[ -n "$skip" ] || echo "$b"
		done
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$POLICY.new"
	mv -f "$POLICY.new" "$POLICY"
}

# put FILE CONTENT: writes CONTENT (printf %s, plus a newline) to a new
# file beside FILE and renames it over FILE, the way useradd replaces
# /etc/passwd.  Creates the directories on the way.
put() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1.new.$$"
	mv -f "$1.new.$$" "$1"
}

OS_RELEASE_DEBIAN='PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"'

OS_RELEASE_RHEL='NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"'

PASSWD_OK='root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
picket-scan:x:990:990:picket scan service:/nonexistent:/usr/sbin/nologin'

PASSWD_NO_SCAN_USER='root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin'

GROUP_OK='root:x:0:
daemon:x:1:
users:x:100:
picket-scan:x:990:'

make_host_root() {
	put "$ROOT/etc/passwd" "$PASSWD_OK"
	put "$ROOT/etc/group" "$GROUP_OK"
	put "$ROOT/etc/os-release" "$OS_RELEASE_DEBIAN"
	put "$ROOT/proc/sys/kernel/osrelease" "$VIEW_RELEASE"
	put "$ROOT/proc/meminfo" 'MemTotal:       16318412 kB
MemFree:         9015224 kB
MemAvailable:   12642712 kB'
	mkdir -p "$ROOT/sys/kernel/btf"
	: >"$ROOT/sys/kernel/btf/vmlinux"
}

# ------------------------------------------------------------------- waiting

_now_us() {
	local t=${EPOCHREALTIME/./}
	echo "${t#0}"
}

# wait_for [-t SECONDS] CMD...: runs CMD every 0.1 s until it succeeds;
# fails, showing CMD's last output, after SECONDS (default $E2E_TIMEOUT).
wait_for() {
	local timeout=$E2E_TIMEOUT out deadline
	if [ "$1" = -t ]; then
		timeout=$2
		shift 2
	fi
	deadline=$(($(_now_us) + timeout * 1000000))
	while :; do
		out=$("$@" 2>&1) && return 0
		if [ "$(_now_us)" -ge "$deadline" ]; then
			fail "wait_for: not true within ${timeout}s: $*" "  last output: $out"
			return 1
		fi
		sleep 0.1
	done
}

# True once PID has exited (it is our child: a zombie until waited for).
proc_gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# --------------------------------------------------------------------- picketd

# ctl ARGS...: picketctl on this test's daemon.
ctl() {
	"$PICKETCTL" --run-dir "$RUN" "$@"
}

# start_picketd [--real-host] [ARGS...]: starts picketd in the foreground
# mode in the background (stderr and stdout to $DLOG), on $POLICY and the
# test's directories, with --host-root $ROOT unless --real-host; returns once
# `picketctl status` answers, fails if picketd exits or does not answer
# within $E2E_TIMEOUT.
start_picketd() {
	local args=(-f -c "$POLICY" --state-dir "$STATE" --run-dir "$RUN" --log-dir "$LOG")
	local deadline st
	if [ "${1-}" = --real-host ]; then
		shift
	else
		args+=(--host-root "$ROOT")
	fi
	[ -z "$PICKETD_PID" ] || fail "start_picketd: picketd $PICKETD_PID is already running" || return
	echo "==== start_picketd ${args[*]} $*" >>"$DLOG"
	"$PICKETD" "${args[@]}" "$@" >>"$DLOG" 2>&1 3>&- &
	PICKETD_PID=$!
	deadline=$(($(_now_us) + E2E_TIMEOUT * 1000000))
	while ! ctl status >/dev/null 2>&1; do
		if proc_gone "$PICKETD_PID"; then
			wait "$PICKETD_PID" && st=0 || st=$?
			PICKETD_PID=
			fail "start_picketd: picketd exited with status $st before answering; its log:" "$(cat "$DLOG")"
			return 1
		fi
		if [ "$(_now_us)" -ge "$deadline" ]; then
			fail "start_picketd: picketd does not answer after ${E2E_TIMEOUT}s; its log:" "$(cat "$DLOG")"
			return 1
		fi
		sleep 0.05
	done
}

# start_picketd_dropping CAPS [ARGS...]: start_picketd with the capabilities
# CAPS (capsh syntax: cap_bpf,cap_sys_admin) dropped from picketd's bounding
# and effective sets; capsh execs picketd, so $PICKETD_PID is picketd itself.
start_picketd_dropping() {
	local caps=$1 saved=$PICKETD st
	shift
	PICKETD=$T/picketd-without-caps
	printf '#!/bin/sh\nexec capsh --drop=%s -- -c '\''exec "$0" "$@"'\'' %s "$@"\n' \
		"$caps" "$saved" >"$PICKETD"
	chmod 0755 "$PICKETD"
	start_picketd "$@" && st=0 || st=$?
	PICKETD=$saved
	return "$st"
}

# stop_picketd: SIGTERM, then waits; returns picketd's exit status (SIGKILL
# and 124 when it does not stop within 3 x $E2E_TIMEOUT).
stop_picketd() {
	local pid=$PICKETD_PID st
	[ -n "$pid" ] || return 0
	PICKETD_PID=
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for -t $((3 * E2E_TIMEOUT)) proc_gone "$pid" 2>/dev/null; then
		echo "stop_picketd: picketd $pid ignored SIGTERM; killed" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 124
	fi
	wait "$pid" && st=0 || st=$?
	echo "==== picketd exited with status $st" >>"$DLOG"
	return "$st"
}

# bg CMD...: runs CMD in the background, killed in teardown; sets BG_PID.
bg() {
	"$@" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# ------------------------------------------------------------------- JSON

# jpy EXPR: evaluates the Python expression EXPR with d = the JSON document
# on stdin; prints a string as it is, anything else as compact JSON.
jpy() {
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))
' "$1"
}

# fault_get ID EXPR: EXPR on the fault (f) as `picketctl --json faults show ID` gives it.
fault_get() {
	local out
	out=$(ctl --json faults show "$1") || fail "picketctl faults show $1 failed: $out" || return
	jpy "(lambda f: $2)(d['fault'])" <<<"$out"
}

fault_state() {
	fault_get "$1" 'f["state"]'
}

fault_detail() {
	fault_get "$1" 'f["detail"]'
}

# fault_detail_is ID TEXT, fault_detail_matches ID ERE
fault_detail_is() {
	[ "$(fault_detail "$1")" = "$2" ]
}

fault_detail_matches() {
	[[ $(fault_detail "$1") =~ $2 ]]
}

fault_active() {
	[ "$(fault_state "$1")" = active ]
}

fault_cleared() {
	[ "$(fault_state "$1")" = cleared ]
}

# The ids of the active faults but $OTHER_FAULTS, space-separated, in the
# CLI's order.
active_faults() {
	local out
	out=$(ctl --json faults) || fail "picketctl --json faults failed: $out" || return
	jpy '" ".join(str(f["id"]) for f in d["faults"] if f["state"] == "active" and str(f["id"]) not in "'"$OTHER_FAULTS"'".split())' <<<"$out"
}

# The active faults of $OTHER_FAULTS as "ID:severity", space-separated.
other_active() {
	local out
	out=$(ctl --json faults) || fail "picketctl --json faults failed: $out" || return
	jpy '" ".join("%d:%s" % (f["id"], f["severity"]) for f in d["faults"] if f["state"] == "active" and str(f["id"]) in "'"$OTHER_FAULTS"'".split())' <<<"$out"
}

# expect_health [ID...]: `picketctl health` says exactly that faults ID...
# are active (with their catalogue severity), besides any active
# $OTHER_FAULTS, and exits accordingly.
expect_health() {
	local all=() id e out st want
	for id in "$@"; do
		all+=("$id:${SEVERITY[$id]}")
	done
	for e in $(other_active); do
		all+=("$e")
	done
	if [ ${#all[@]} -eq 0 ]; then
		want=healthy
	else
		want="unhealthy: ${#all[@]} active fault(s): $(printf '%s\n' "${all[@]}" | sort -t: -k1,1n |
			sed 's/:/ /' | paste -sd, | sed 's/,/, /g')"
	fi
	out=$(ctl health 2>&1) && st=0 || st=$?
	assert_eq "$out" "$want" "picketctl health" || return
	assert_eq "$st" "$([ ${#all[@]} -eq 0 ] && echo 0 || echo 1)" "exit status of picketctl health"
}

# expect_severity_count SEVERITY N: the metrics file counts N active faults
# of SEVERITY, plus the active $OTHER_FAULTS of that severity.
expect_severity_count() {
	local n=$2 e
	for e in $(other_active); do
		[ "${e#*:}" != "$1" ] || n=$((n + 1))
	done
	metric_is "picket_faults_active{severity=\"$1\"} $n" ||
		fail "metrics: not 'picket_faults_active{severity=\"$1\"} $n'" "$(grep '^picket_faults_active' "$METRICS")"
}

# ------------------------------------------------------------------- events

# events_py EXPR [FILE]: EXPR in Python over the event log (default
# $EVENTS), with all_ev = the list of events, ev = the same without the
# fault events of $OTHER_FAULTS, of(TYPE[, ID]) = those of ev of a type (and
# fault id); prints a string as it is, anything else as compact JSON.
# Fails if any line of the log is not a JSON object with seq, time and type.
events_py() {
	"$PYTHON" -c '
import json, sys
all_ev = []
with open(sys.argv[2]) as f:
    for n, line in enumerate(f, 1):
        # A last line without its newline is still being written.
        if not line.endswith("\n"):
            break
        o = json.loads(line)
        if not isinstance(o, dict) or not all(k in o for k in ("seq", "time", "type")):
            sys.exit("%s:%d: not an event: %r" % (sys.argv[2], n, line))
        all_ev.append(o)
other = [int(x) for x in sys.argv[3].split()]
ev = [e for e in all_ev if e.get("fault", {}).get("id") not in other]
def of(t, fid=None):
    return [e for e in ev if e["type"] == t and (fid is None or e.get("fault", {}).get("id") == fid)]
def idx(e):
    return next(i for i, x in enumerate(ev) if x is e)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))
' "$1" "${2:-$EVENTS}" "$OTHER_FAULTS"
}

# last_event TYPE [ID]: the last event of TYPE (for fault ID) as compact JSON.
last_event() {
	events_py "of('$1'${2:+, $2})[-1]"
}

# count_events TYPE [ID]
count_events() {
	events_py "len(of('$1'${2:+, $2}))"
}

# fault_history ID: the types of the events of fault ID, in log order.
fault_history() {
	events_py "' '.join(e['type'] for e in ev if e.get('fault', {}).get('id') == $1)"
}

# has_event TYPE [ID]: true once the log has such an event.
has_event() {
	[ "$(count_events "$@" 2>/dev/null)" -gt 0 ] 2>/dev/null
}

# ------------------------------------------------------------------ metrics

_metrics_stamp() {
	stat -c '%i %.9Y' "$METRICS" 2>/dev/null
}

_metrics_changed() {
	[ "$(_metrics_stamp)" != "$1" ]
}

# wait_recheck: returns after a whole re-check ran after the call.  Every
# re-check ends by rewriting the metrics file (atomically: a new inode), so
# two rewrites seen mean one re-check started after the call.
wait_recheck() {
	local s
	s=$(_metrics_stamp)
	wait_for _metrics_changed "$s" || return
	s=$(_metrics_stamp)
	wait_for _metrics_changed "$s"
}

# metric_is LINE: true when the metrics file has exactly this line.
metric_is() {
	grep -qFx -- "$1" "$METRICS"
}
