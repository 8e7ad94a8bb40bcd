#!/usr/bin/env bash
# scan-bench.sh [BUILD_DIR] - picket's on-demand scan against clamd, on the
# same corpus and the same definitions, in one run.  As root.  See README.md.
#
#   BUILD_DIR   the meson build to measure (default: the repository's build/)
#
# Environment:
#   BENCH_SEED=N          corpus seed (default 20251125)
#   BENCH_CORPUS=DIR      scan DIR instead of the generated corpus (read only:
#                         nothing is added to it, no infected count is expected)
#   CLAMD_THREADS=N       clamd's MaxThreads (default: clamd's own, 10)
#   BENCH_DROP_CACHES=1   drop the page cache (the whole machine's) before each
#                         pass instead of warming it with the corpus
#   BENCH_SCANTMP=DIR     where both scanners' temporary directories go: picket's
#                         run dir (its scan-tmp) and clamd's TemporaryDirectory
#                         (default /dev/shm when it is a tmpfs, as /run is for
#                         picket in production; else the work directory).
#                         libclamav makes and removes a directory there for
#                         every file: on this machine's ext4 that costs 0.2 to
#                         0.8 ms a file (see README.md)
#   BENCH_KEEP=1          keep the temporary directory (corpus, logs, outputs)
#   BENCH_TIMEOUT=S       how long each daemon may take to be ready (default 60)
#
# Steps: installs clamav-daemon, clamdscan, clamav (sigtool) and
# clamav-testfiles with apt-get when missing (services kept from starting);
# builds the corpus (bench/make-corpus.py, seeded) plus the ClamAV test files
# and EICAR copies; builds the test definitions (tests/data/make-test-defs.sh)
# and gives the same picket.cud to both; starts picketd (temporary
# directories, the build's picket-scand) and clamd (temporary configuration
# and socket); measures a cold pass and a second pass of each; prints the
# table; stops both daemons and removes everything, on failure too.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

die() {
	echo "scan-bench: $*" >&2
	exit 1
}
say() { echo "scan-bench: $*" >&2; }

[ $# -le 1 ] || die "usage: $0 [BUILD_DIR]"
[ "$(id -u)" -eq 0 ] || die "run as root (picketd is root; the corpus is read through it)"
BUILD=$(cd "${1:-$REPO/build}" 2>/dev/null && pwd) || die "no build directory ${1:-$REPO/build}"
PICKETD=$BUILD/src/daemon/picketd
PICKETCTL=$BUILD/src/ctl/picketctl
SCAND=$BUILD/src/scand/picket-scand
for f in "$PICKETD" "$PICKETCTL" "$SCAND"; do
	[ -x "$f" ] || die "$f missing: build first (make build)"
done
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
command -v "$PY" >/dev/null || die "python3 is needed"
SEED=${BENCH_SEED:-20251125}
TIMEOUT=${BENCH_TIMEOUT:-60}
TESTFILES=/usr/share/clamav-testfiles
N_EICAR=4

W=
S=
PICKETD_PID=
SCAND_PID=
CLAMD_PID=
CREATED_POLICY_RC=

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

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[ -z "$PICKETD_PID" ] || stop_pid "$PICKETD_PID" picketd
	# picketd stops its scan service; should it not have, the one we saw.
	if [ -n "$SCAND_PID" ] && [ -n "$S" ] && [ -r "/proc/$SCAND_PID/cmdline" ] &&
		tr '\0' ' ' <"/proc/$SCAND_PID/cmdline" | grep -qF "$S/"; then
		kill -KILL "$SCAND_PID" 2>/dev/null
	fi
	[ -z "$CLAMD_PID" ] || stop_pid "$CLAMD_PID" clamd
	[ -z "$CREATED_POLICY_RC" ] || rm -f /usr/sbin/policy-rc.d
	if [ -n "${BENCH_KEEP:-}" ]; then
		[ -z "$W" ] || say "kept $W${S:+ and $S}"
	else
		[ -z "$W" ] || rm -rf "$W"
		[ -z "$S" ] || rm -rf "$S"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ packages

install_missing() {
	local pkgs=()
	command -v clamd >/dev/null || pkgs+=(clamav-daemon)
	command -v clamdscan >/dev/null || pkgs+=(clamdscan)
	command -v sigtool >/dev/null || pkgs+=(clamav)
	[ -r "$TESTFILES/clam.exe" ] || pkgs+=(clamav-testfiles)
	[ ${#pkgs[@]} -gt 0 ] || return 0
	say "installing ${pkgs[*]}"
	# Keep the maintainer scripts from starting clamd and freshclam.
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
	# Whatever started anyway (a systemd socket unit, say) is stopped: this
	# benchmark never leaves a system clamd behind.
	if [ -d /run/systemd/system ]; then
		systemctl stop clamav-daemon.service clamav-daemon.socket clamav-freshclam.service \
			2>/dev/null || true
	fi
}

install_missing
for tool in clamd clamdscan sigtool; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# ------------------------------------------------------------ helpers

now() { echo "$EPOCHREALTIME"; }

ctl() { "$PICKETCTL" --run-dir "$RUN" "$@"; }

# jget EXPR < JSON: EXPR in Python on d = the document.
jget() {
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

scanner() { ctl --json status 2>/dev/null | jget "d['scanner'][$1]"; }

# cpu_ticks PID: utime + stime of the whole process (exited threads included).
cpu_ticks() {
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	read -ra f <<<"${s##*) }" # f[0] is field 3, the state
	echo $((f[11] + f[12]))
}

# sched PID: nanoseconds on a CPU and waiting on a run queue, for the
# main thread (picketd and picket-scand have no other).
sched() {
	local a b
	read -r a b _ <"/proc/$1/schedstat" 2>/dev/null || {
		echo "0 0"
		return
	}
	echo "$a $b"
}

# status_kb PID FIELD: FIELD (VmRSS, VmHWM) of /proc/PID/status in KiB.
status_kb() {
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null || echo 0
}

alive() { kill -0 "$1" 2>/dev/null; }

# fstype DIR: the file system DIR is on (stat -f calls ext4 "ext2/ext3").
fstype() {
	local t
	t=$(findmnt -n -o FSTYPE --target "$1" 2>/dev/null | head -n 1) || t=
	[ -n "$t" ] || t=$(stat -f -c %T "$1")
	echo "$t"
}

# ------------------------------------------------------------ set-up

W=$(mktemp -d "${TMPDIR:-/tmp}/picket-bench.XXXXXX")
chmod 0755 "$W" # nothing secret; like the end-to-end tests' directories
# Copies of the binaries: a rebuild during the run changes nothing.
mkdir -p "$W/bin"
cp "$PICKETD" "$PICKETCTL" "$SCAND" "$W/bin/"
PICKETD=$W/bin/picketd PICKETCTL=$W/bin/picketctl SCAND=$W/bin/picket-scand
# The scanners' temporary directories: on a tmpfs unless told otherwise.
if [ -n "${BENCH_SCANTMP:-}" ]; then
	SCANTMP_BASE=$BENCH_SCANTMP
elif [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
	SCANTMP_BASE=/dev/shm
else
	SCANTMP_BASE=$W
fi
S=$(mktemp -d "$SCANTMP_BASE/picket-bench-tmp.XXXXXX")
chmod 0755 "$S"
SCANTMP_FS=$(fstype "$S")
RUN=$S/run # picketd's run dir: the socket and the scan service's scan-tmp
CORPUS=$W/corpus
mkdir -p "$CORPUS" "$W/defs" "$W/p/state" "$RUN" "$W/p/log" "$W/p/prefix" \
	"$W/clamd/db" "$S/clamd-tmp" "$W/out"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "building the test definitions"
sh "$REPO/tests/data/make-test-defs.sh" "$W/defs" >/dev/null
cp "$W/defs/picket.cud" "$W/clamd/db/picket.cud"
if [ -n "${BENCH_CORPUS:-}" ]; then
	CORPUS=$(cd "$BENCH_CORPUS" && pwd) || die "no directory $BENCH_CORPUS"
	SEED=-
	N_EXPECTED=
else
	say "building the corpus in $CORPUS (seed $SEED)"
	"$PY" "$HERE/make-corpus.py" "$CORPUS" "$SEED" >/dev/null
	cp -r "$TESTFILES" "$CORPUS/clamav-testfiles"
	cp "$W/defs/eicar.com" "$CORPUS/eicar.com"
	cp "$W/defs/eicar.com" "$CORPUS/gen/g00/d000/eicar.txt"
	cp "$W/defs/eicar.com" "$CORPUS/gen/g01/d015/eicar.bin"
	cp "$W/defs/eicar.com" "$CORPUS/gen/g02/d029/eicar.dat"
	N_EXPECTED=$(($(find "$TESTFILES" -type f | wc -l) + N_EICAR))
fi
read -r N_FILES N_BYTES < <(find "$CORPUS" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { print n, b }')
FSTYPE=$(fstype "$CORPUS")

# picketd: temporary directories, the build's scan service, unsigned .cud allowed.
cat >"$W/policy.conf" <<EOF
# scan benchmark policy
install_prefix = "$W/p/prefix";
scan = { allow_unsigned_defs = true; };
EOF
say "starting picketd"
"$PICKETD" -f -c "$W/policy.conf" --state-dir "$W/p/state" --run-dir "$RUN" \
	--log-dir "$W/p/log" --prefix "$W/p/prefix" --scand "$SCAND" >"$W/picketd.log" 2>&1 &
PICKETD_PID=$!
deadline=$((SECONDS + TIMEOUT))
until ctl status >/dev/null 2>&1; do
	alive "$PICKETD_PID" || { cat "$W/picketd.log" >&2; PICKETD_PID=; die "picketd exited"; }
	[ $SECONDS -lt $deadline ] || { cat "$W/picketd.log" >&2; die "picketd does not answer"; }
	sleep 0.1
done
ctl defs install "$W/defs/picket.cud" >"$W/out/defs-install" 2>&1 ||
	{ cat "$W/out/defs-install" "$W/picketd.log" >&2; die "picketctl defs install failed"; }

# clamd: temporary configuration and socket, the same picket.cud.
cat >"$W/clamd/clamd.conf" <<EOF
DatabaseDirectory $W/clamd/db
LocalSocket $W/clamd/clamd.sock
TemporaryDirectory $S/clamd-tmp
Foreground yes
# picket-scand reports files over a limit as Heuristics.Limits.Exceeded.*
AlertExceedsMax yes
# One "PATH: OK" line a file on stderr (clamdscan prints none for a
# directory): how the files clamd scanned are counted.
LogClean yes
${CLAMD_THREADS:+MaxThreads $CLAMD_THREADS}
EOF
say "starting clamd"
clamd -c "$W/clamd/clamd.conf" >"$W/clamd.log" 2>&1 &
CLAMD_PID=$!

deadline=$((SECONDS + TIMEOUT))
until [ "$(scanner "'state'")" = ready ] 2>/dev/null; do
	alive "$PICKETD_PID" || { cat "$W/picketd.log" >&2; PICKETD_PID=; die "picketd exited"; }
	[ $SECONDS -lt $deadline ] || { cat "$W/picketd.log" >&2; die "picket's scan service is not ready"; }
	sleep 0.1
done
SCAND_PID=$(scanner "'pid'")
SCAND_UID=$(awk '$1 == "Uid:" { print $2 }' "/proc/$SCAND_PID/status")
until [ -S "$W/clamd/clamd.sock" ] &&
	clamdscan -c "$W/clamd/clamd.conf" --ping 1 >/dev/null 2>&1; do
	alive "$CLAMD_PID" || { cat "$W/clamd.log" >&2; CLAMD_PID=; die "clamd exited"; }
	[ $SECONDS -lt $deadline ] || { cat "$W/clamd.log" >&2; die "clamd is not ready"; }
	sleep 0.2
done
CLAMD_THREADS_IN_USE=$(awk '$1 == "MaxThreads" { print $2 }' "$W/clamd/clamd.conf")
CLAMD_THREADS_IN_USE=${CLAMD_THREADS_IN_USE:-10}

# ------------------------------------------------------------ passes

drop_or_warm() {
	if [ -n "${BENCH_DROP_CACHES:-}" ]; then
		sync
		if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
			PAGECACHE=dropped
			return
		fi
		say "cannot drop the page cache here: warming it instead"
	fi
	find "$CORPUS" -type f -exec cat {} + >/dev/null
	PAGECACHE=warm
}

# pass NAME CMD...: runs CMD with its output in $W/out/NAME.{out,err}, and
# clamd's log lines of the pass in NAME.clamdlog; writes NAME.meas (JSON):
# wall s, client user+sys s, exit status, CPU s of picketd, picket-scand and
# clamd, picket's scans and cache hits, and for picketd and picket-scand the
# seconds on a CPU and waiting for one (schedstat).
pass() {
	local name=$1 t0 t1 rc=0 tk p0 s0 c0 p1 s1 c1 sc0 ch0 sc1 ch1 l0 l1 ss0 ss1 ps0 ps1
	shift
	l0=$(wc -l <"$W/clamd.log")
	tk=$(getconf CLK_TCK)
	sc0=$(scanner "'scans'")
	ch0=$(scanner "'cache_hits'")
	p0=$(cpu_ticks "$PICKETD_PID") s0=$(cpu_ticks "$SCAND_PID") c0=$(cpu_ticks "$CLAMD_PID")
	ps0=$(sched "$PICKETD_PID") ss0=$(sched "$SCAND_PID")
	t0=$(now)
	{ time "$@" >"$W/out/$name.out" 2>"$W/out/$name.err"; } 2>"$W/out/$name.time" || rc=$?
	t1=$(now)
	p1=$(cpu_ticks "$PICKETD_PID") s1=$(cpu_ticks "$SCAND_PID") c1=$(cpu_ticks "$CLAMD_PID")
	ps1=$(sched "$PICKETD_PID") ss1=$(sched "$SCAND_PID")
	sc1=$(scanner "'scans'")
	ch1=$(scanner "'cache_hits'")
	sleep 0.3 # clamd's last log lines
	l1=$(wc -l <"$W/clamd.log")
	sed -n "$((l0 + 1)),${l1}p" "$W/clamd.log" >"$W/out/$name.clamdlog"
	read -r _ cu cs <"$W/out/$name.time"
	awk -v t0="$t0" -v t1="$t1" -v cu="$cu" -v cs="$cs" -v rc="$rc" -v tk="$tk" \
		-v p="$((p1 - p0))" -v s="$((s1 - s0))" -v c="$((c1 - c0))" \
		-v sc="$((sc1 - sc0))" -v ch="$((ch1 - ch0))" -v pc="$PAGECACHE" \
		-v ps0="$ps0" -v ps1="$ps1" -v ss0="$ss0" -v ss1="$ss1" \
		'BEGIN { split(ps0, pa); split(ps1, pb); split(ss0, sa); split(ss1, sb)
		printf "{\"wall\": %.6f, \"client_cpu\": %.3f, \"rc\": %d, \"picketd_cpu\": %.2f, \"scand_cpu\": %.2f, \"clamd_cpu\": %.2f, \"scans\": %d, \"cache_hits\": %d, \"pagecache\": \"%s\", \"picketd_run\": %.3f, \"picketd_wait\": %.3f, \"scand_run\": %.3f, \"scand_wait\": %.3f}\n", t1 - t0, cu + cs, rc, p / tk, s / tk, c / tk, sc, ch, pc, (pb[1] - pa[1]) / 1e9, (pb[2] - pa[2]) / 1e9, (sb[1] - sa[1]) / 1e9, (sb[2] - sa[2]) / 1e9 }' \
		>"$W/out/$name.meas"
	# exit 1 is "something was found" for both clients; more is a failure.
	[ "$rc" -le 1 ] || { cat "$W/out/$name.err" >&2; die "$name: $* exited $rc"; }
}

TIMEFORMAT='%3R %3U %3S'
picket_scan() { ctl --json scan "$CORPUS"; }
clamd_scan() { clamdscan -c "$W/clamd/clamd.conf" --fdpass --multiscan "$CORPUS"; }

say "corpus: $N_FILES files, $N_BYTES bytes on $FSTYPE; measuring"
drop_or_warm
pass picket-cold picket_scan
drop_or_warm
pass clamd-cold clamd_scan
drop_or_warm
pass picket-2nd picket_scan
drop_or_warm
pass clamd-2nd clamd_scan

[ "$(scanner "'pid'")" = "$SCAND_PID" ] || say "warning: picket-scand restarted during the run (see picketd.log)"
alive "$CLAMD_PID" || die "clamd died during the run"
RSS_PICKETD=$(status_kb "$PICKETD_PID" VmRSS) HWM_PICKETD=$(status_kb "$PICKETD_PID" VmHWM)
RSS_SCAND=$(status_kb "$SCAND_PID" VmRSS) HWM_SCAND=$(status_kb "$SCAND_PID" VmHWM)
RSS_CLAMD=$(status_kb "$CLAMD_PID" VmRSS) HWM_CLAMD=$(status_kb "$CLAMD_PID" VmHWM)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ report

export W CORPUS SCANTMP_BASE SCANTMP_FS N_FILES N_BYTES N_EXPECTED FSTYPE SEED SCAND_UID \
	CLAMD_THREADS_IN_USE RSS_PICKETD HWM_PICKETD RSS_SCAND HWM_SCAND RSS_CLAMD HWM_CLAMD LOAD_BEFORE LOAD_AFTER
"$PY" "$HERE/report.py"
