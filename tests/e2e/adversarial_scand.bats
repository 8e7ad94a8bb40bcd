#!/usr/bin/env bats
# Issue 12, the scan service: a picket-scand taken over by a file it parses
# (tests/fakescand/fake-scand.c sends what it could: a verdict out of
# range, FAILED or READY out of turn, a verdict for another file) restarts
# it and re-queues the file, which the real service then scans; a syscall
# its seccomp filter stops is named in the crash and in fault 6; the
# sandbox as root still scans archives.

load scan_helpers

FAKE=$PICKET_BUILD/tests/fakescand/fake-scand

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	scan_policy
	[ -x "$FAKE" ] || fail "no fake-scand in $PICKET_BUILD"
}

teardown() {
	unset FAKE_SCAND_MODE FAKE_SCAND_ONCE FAKE_SCAND_REAL
	e2e_teardown
}

# fake_start MODE: picketd with the fake service misbehaving as MODE once,
# then (from the restart on) the real picket-scand; definitions installed,
# the fake ready.
fake_start() {
	export FAKE_SCAND_MODE=$1 FAKE_SCAND_ONCE=$T/fake-once FAKE_SCAND_REAL=$SCAND
	start_picketd --scand "$FAKE" || return
	install_defs "$DEFS/picket.cud"
}

# ready_as UID: the service that is ready runs as UID (the fake: 65534).
ready_as() {
	local pid
	pid=$(scanner_pid) && [ "$pid" -gt 0 ] && scanner_ready &&
		[ "$(proc_status "$pid" Uid)" = "$1 $1 $1 $1" ]
}

# scan_eicar: `picketctl scan` of a copy of EICAR, bounded in time (a wedged
# supervisor would never answer); sets status and output.
scan_eicar() {
	cp "$DEFS/eicar.com" "$T/eicar.com"
	run timeout 30 "$PICKETCTL" --run-dir "$RUN" scan "$T/eicar.com"
}

# expect_requeued HOW: one crash, HOW, while $T/eicar.com was in flight; the
# real service scanned it again and found it; nothing else failed.
expect_requeued() {
	assert_eq "$status" 1 "exit status of the scan (124: no answer)"
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"
	assert_contains "$output" "Errors: 0"
	assert_eq "$(sev "[(e['how'], e['path']) for e in of('scan_service_crashed')]")" \
		"[[\"$1\",\"$T/eicar.com\"]]"
	[ -e "$T/fake-once" ]
	ready_as "$(scan_uid)"
	assert_eq "$(scanner 's["queued"]')" 0
	refute fault_active 7
}

# --------------------------------------------------- a compromised service

@test "compromised scan service: a verdict out of range restarts it; the file is scanned again" {
	fake_start verdict-range
	ready_as 65534
	scan_eicar
	expect_requeued "sent a malformed message: VERDICT result 7 out of range"
}

@test "compromised scan service: FAILED while a file is in flight restarts it, no wedge, no fault 7" {
	fake_start failed-inflight
	scan_eicar
	expect_requeued "sent a malformed message: FAILED after READY"
	assert_eq "$(scanner 's["state"]')" ready
	assert_eq "$(s_fault_history 7)" "fault_raised fault_cleared" "fault 7: before the install only"
}

@test "compromised scan service: a second READY restarts it; the file is scanned again" {
	fake_start second-ready
	scan_eicar
	expect_requeued "sent a malformed message: READY again while ready"
}

@test "compromised scan service: INFECTED for another file than the one in flight restarts it" {
	fake_start wrong-id
	scan_eicar
	how=$(slast scan_service_crashed | jpy 'd["how"]')
	[[ $how =~ ^sent\ a\ malformed\ message:\ VERDICT\ for\ request\ ([0-9]+),\ not\ for\ the\ file\ in\ flight\ \(([0-9]+)\)$ ]] ||
		fail "how: '$how'"
	assert_eq "${BASH_REMATCH[1]}" "$((BASH_REMATCH[2] + 1))"
	expect_requeued "$how"
	assert_eq "$(scount detection)" 1
	assert_eq "$(slast detection | jpy '[d["path"], d["signature"]]')" "[\"$T/eicar.com\",\"$EICAR_SIG\"]"
}

@test "compromised scan service: INFECTED while no file is in flight restarts it; scanning goes on" {
	fake_start unsolicited
	wait_for -t "$SCAN_WAIT" ready_as "$(scan_uid)"
	assert_eq "$(sev "[(e['how'], e['path']) for e in of('scan_service_crashed')]")" \
		'[["sent a malformed message: VERDICT for request 1 while no file is in flight",""]]'
	assert_eq "$(scount detection)" 0
	scan_eicar
	assert_eq "$status" 1
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"
}

# ------------------------------------------------------ seccomp, the clock

@test "seccomp: the syscall the filter stopped is in the crash and in fault 6's detail" {
	scan_policy --faults "scan_crash_count = 1; scan_crash_window = 60;"
	fake_start sigsys
	scan_eicar
	nr=$(printf '#include <sys/syscall.h>\nSYS_getuid\n' | cc -E -P - | tail -n 1)
	expect_requeued "killed by its seccomp filter (SIGSYS) at syscall $nr (getuid)"
	wait_for fault_active 6
	assert_eq "$(fault_detail 6)" \
		"1 crashes in 60 s; in the engine: $T/eicar.com (seccomp stopped syscall $nr (getuid))"
}

# ------------------------------------------------ the sandbox as root (5)

@test "sandbox as root: without a usable scan user the service is root, sandboxed, and still unpacks archives" {
	scan_policy "scan_user = \"picket-nouser\";"
	scan_start --real-host
	pid=$(scanner_pid)
	assert_eq "$(proc_status "$pid" Uid)" "0 0 0 0"
	assert_eq "$(proc_status "$pid" CapEff)" 0000000000000000
	assert_eq "$(proc_status "$pid" Seccomp)" 2
	assert_eq "$(proc_status "$pid" NoNewPrivs)" 1
	wait_for fault_active 5
	# Archives are unpacked beneath the temp directory (Landlock allows it).
	run ctl scan "$TESTFILES/clam.zip" "$TESTFILES/clam.tar.gz" "$TESTFILES/clam.7z"
	assert_eq "$status" 1
	assert_contains "$output" "Infected files: 3"
	assert_contains "$output" "Errors: 0"
	assert_eq "$(scount scan_service_crashed)" 0
}
