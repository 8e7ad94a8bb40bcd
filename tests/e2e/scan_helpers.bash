# scan_helpers.bash - set-up shared by the scan service's end-to-end tests
# (scan.bats, defs.bats, scanfaults.bats, quarantine.bats), on top of
# helpers.bash (loaded here: its setup/teardown, $T, start_picketd, ctl,
# wait_for, jpy, events_py, fault_* all apply).
#
# setup_file: scan_setup_file creates the scan user and group picket-scan
# when the machine has none (a fresh CI machine), builds the test
# definitions once per file into $DEFS (tests/data/make-test-defs.sh:
# picket.cud v1, v2/picket.cud, bad/*.cud, eicar.com);
# teardown_file: scan_teardown_file removes what scan_setup_file created.
#
# Per test: scan_policy writes the policy (unsigned .cud allowed), scan_start
# starts picketd with --scand and installs picket.cud v1, returning once the
# scan service is ready.
#
# Signatures of the test definitions:
#   $CLAM_SIG   clam.exe and every file of /usr/share/clamav-testfiles
#   $EICAR_SIG  the EICAR test file

load helpers

SCAND=$PICKET_BUILD/src/scand/picket-scand
TESTFILES=/usr/share/clamav-testfiles
CLAM_SIG=Picket.Test.ClamExe.UNOFFICIAL
EICAR_SIG=Picket.Test.EICAR.UNOFFICIAL
SCAN_USER=picket-scan
# The longest a scan service state is waited for, in seconds: a start
# loads the engine (slower in sanitized builds), a restart waits for its
# backoff (1, 2, 4 ... s).
SCAN_WAIT=${SCAN_WAIT:-20}

# refute CMD...: fails when CMD succeeds (a bare `! CMD` never fails a
# bats test: errexit ignores negated commands).
refute() {
	if "$@"; then
		fail "expected to fail: $*"
	fi
}

# ------------------------------------------------------------- per file

scan_setup_file() {
	[ -x "$SCAND" ] || fail "no picket-scand in $PICKET_BUILD (set PICKET_BUILD)" || return
	[ -r "$TESTFILES/clam.exe" ] || fail "$TESTFILES missing (package clamav-testfiles)" || return
	# A fresh machine has no scan user: picketd's install would create it.
	if ! getent group "$SCAN_USER" >/dev/null; then
		groupadd --system "$SCAN_USER" || return
		: >"$BATS_FILE_TMPDIR/created-group"
	fi
	if ! getent passwd "$SCAN_USER" >/dev/null; then
		useradd --system --gid "$SCAN_USER" --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$SCAN_USER" || return
		: >"$BATS_FILE_TMPDIR/created-user"
	fi
	export DEFS=$BATS_FILE_TMPDIR/defs
	sh "$REPO/tests/data/make-test-defs.sh" "$DEFS" >&2 || fail "make-test-defs.sh failed"
}

scan_teardown_file() {
	if [ -e "$BATS_FILE_TMPDIR/created-user" ]; then
		userdel "$SCAN_USER" 2>/dev/null || true
	fi
	if [ -e "$BATS_FILE_TMPDIR/created-group" ]; then
		groupdel "$SCAN_USER" 2>/dev/null || true
	fi
	return 0
}

# -------------------------------------------------------------- the policy

# scan_policy [--scan SETTINGS] [--faults SETTINGS] [LINE...]: the test
# policy of helpers.bash plus a `scan` group (default: unsigned .cud
# definitions allowed; --scan replaces the group's settings) and, with
# --faults, a `faults` group.
scan_policy() {
	local scan="allow_unsigned_defs = true;" faults=
	while [ $# -gt 0 ]; do
		case $1 in
		--scan) scan=$2 ;;
		--faults) faults=$2 ;;
		*) break ;;
		esac
		shift 2
	done
	write_policy "scan = { $scan };" ${faults:+"faults = { $faults };"} "$@"
}

# -------------------------------------------------------------- the daemon

# start_scan_picketd [--real-host] [ARGS...]: start_picketd with the scan
# service of this build.
start_scan_picketd() {
	local real=()
	if [ "${1-}" = --real-host ]; then
		real=(--real-host)
		shift
	fi
	start_picketd "${real[@]}" --scand "$SCAND" "$@"
}

# scanner EXPR: EXPR in Python on s = the "scanner" object of `status --json`.
scanner() {
	local out
	out=$(ctl --json status) || fail "picketctl --json status failed: $out" || return
	jpy "(lambda s: $1)(d['scanner'])" <<<"$out"
}

scanner_pid() {
	scanner 's["pid"]'
}

# scanner_ready [OLDPID]: the service is ready (with a pid other than OLDPID).
scanner_ready() {
	local st
	st=$(scanner '"%s %d" % (s["state"], s["pid"])') || return
	[ "${st% *}" = ready ] && [ "${st#* }" != 0 ] && [ "${st#* }" != "${1-}" ]
}

# wait_ready [OLDPID]: waits until scanner_ready [OLDPID]; prints nothing.
wait_ready() {
	wait_for -t "$SCAN_WAIT" scanner_ready "$@"
}

# install_defs FILE...: `picketctl defs install`, which must accept them,
# then waits until the scan service is ready on the new set.
install_defs() {
	local out
	out=$(ctl defs install "$@" 2>&1) || fail "picketctl defs install $* failed:" "$out" || return
	wait_ready
}

# scan_start [--real-host] [ARGS...]: picketd with the scan service, the
# test definitions v1 installed, the service ready.
scan_start() {
	start_scan_picketd "$@" || return
	install_defs "$DEFS/picket.cud"
}

# defs_get EXPR: EXPR in Python on d = `picketctl --json defs status`.
defs_get() {
	local out
	out=$(ctl --json defs status) || fail "picketctl --json defs status failed: $out" || return
	jpy "$1" <<<"$out"
}

# The set the `active` link of the store names.
active_set() {
	local t
	t=$(readlink "$STATE/defs/active") || return
	echo "${t#sets/}"
}

# ------------------------------------------------------------------ events

# sev EXPR: events_py over every event, those of faults 6 and 7 included
# (helpers.bash leaves them out of `ev` and of()).
sev() {
	OTHER_FAULTS="" events_py "$@"
}

# scount TYPE [FAULT_ID]: how many events of TYPE (for fault FAULT_ID).
scount() {
	sev "len(of('$1'${2:+, $2}))"
}

# s_has_event TYPE [FAULT_ID]
s_has_event() {
	[ "$(scount "$@" 2>/dev/null)" -gt 0 ] 2>/dev/null
}

# slast TYPE [FAULT_ID]: the last such event, as compact JSON.
slast() {
	sev "of('$1'${2:+, $2})[-1]"
}

# s_fault_history ID: the types of the events of fault ID, in log order.
s_fault_history() {
	sev "' '.join(e['type'] for e in ev if e.get('fault', {}).get('id') == $1)"
}

# ---------------------------------------------------------------- processes

# proc_status PID FIELD: the value of FIELD in /proc/PID/status, its
# whitespace squeezed to single spaces.
proc_status() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }' "/proc/$1/status"
}

# has_open PID PATH: PID holds a descriptor on PATH (the file it scans).
has_open() {
	local l
	for l in /proc/"$1"/fd/*; do
		[ "$(readlink "$l" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}

# kill_scand SIGNAL: sends SIGNAL to the ready scan service, then waits for
# the next one to be ready; sets OLD_SCAND_PID and SCAND_PID.
kill_scand() {
	OLD_SCAND_PID=$(scanner_pid) || return
	[ "$OLD_SCAND_PID" -gt 0 ] || fail "kill_scand: no scan service running" || return
	kill "-$1" "$OLD_SCAND_PID" || return
	wait_ready "$OLD_SCAND_PID" || return
	SCAND_PID=$(scanner_pid)
}

# The uid and gid of the scan user on this machine.
scan_uid() {
	id -u "$SCAN_USER"
}

scan_gid() {
	getent group "$SCAN_USER" | cut -d: -f3
}
