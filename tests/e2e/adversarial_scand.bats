#!/usr/bin/env bats
# Issue 12, the scan service: a picket-scand taken over by a file it parses
# (tests/fakescand/fake-scand.c sends what it could: a verdict out of
# range, FAILED or READY out of turn, a verdict for another file) restarts
# it and re-queues the file, which the real service then scans; a syscall
# its seccomp filter stops is named in the crash and in fault 6; the
# sandbox as root (fault 5) keeps a taken-over service from writing root's
# files and still scans archives; files that hit a scan limit are
# "not scanned: limit", never detections, quarantined or blocked only when
# the policy says so.

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
	unset FAKE_SCAND_MODE FAKE_SCAND_ONCE FAKE_SCAND_REAL FAKE_SCAND_VICTIM
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

@test "sandbox as root: a taken-over root service cannot write, create, unlink, chmod or rename a root file" {
	printf 'keep me\n' >"$T/victim"
	chmod 0644 "$T/victim"
	export FAKE_SCAND_VICTIM=$T/victim
	fake_start escape
	ready_as 0
	assert_eq "$(proc_status "$(scanner_pid)" CapEff)" 0000000000000000
	scan_eicar
	# Landlock refuses the writes (EACCES), the filter chmod (EPERM) and rename (trapped).
	assert_contains "$(cat "$DLOG")" \
		"fake-scand escape: write=EACCES create=EACCES unlink=EACCES chmod=EPERM mkdir=EACCES"
	nr=$(printf '#include <sys/syscall.h>\nSYS_rename\n' | cc -E -P - | tail -n 1)
	expect_requeued "killed by its seccomp filter (SIGSYS) at syscall $nr (rename)"
	assert_eq "$(cat "$T/victim")" "keep me"
	assert_eq "$(stat -c '%a %u' "$T/victim")" "644 0"
	[ ! -e "$T/victim.new" ]
	[ ! -e "$T/victim.moved" ]
}

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

# ------------------------------------------------------------- scan limits

# make_zip FILE N: a zip of N small clean members.
make_zip() {
	"$PYTHON" - "$1" "$2" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(int(sys.argv[2])):
        z.writestr("m%03d.txt" % i, "member %d\n" % i)
EOF
}

@test "scan limits: a zip over max_files is 'not scanned: limit', no detection, no quarantine" {
	scan_policy --scan "allow_unsigned_defs = true; max_files = 5; action = \"quarantine\";"
	scan_start
	make_zip "$T/many.zip" 20
	make_zip "$T/few.zip" 3
	run ctl scan "$T/many.zip" "$T/few.zip"
	assert_eq "$status" 0 "exit status (no infected file)"
	assert_contains "$output" "$T/many.zip: not scanned: limit (Heuristics.Limits.Exceeded.MaxFiles)"
	assert_not_contains "$output" FOUND
	assert_contains "$output" "Infected files: 0"
	assert_contains "$output" "Not scanned (limits): 1"
	[ -f "$T/many.zip" ]
	assert_eq "$(scount detection)" 0
	assert_eq "$(slast scan_limit | jpy '[d["path"], d["limit"], d["name"], d["action"]]')" \
		"[\"$T/many.zip\",\"MaxFiles\",\"Heuristics.Limits.Exceeded.MaxFiles\",\"reported\"]"
	assert_eq "$(scount scan_limit)" 1
	assert_eq "$(ctl --json quarantine list | jpy 'len(d["items"])')" 0
	assert_eq "$(scanner '[s["detections"], s["limits"]]')" "[0,1]"
	# --json: its own list and count.
	out=$(ctl --json scan "$T/many.zip" | tail -n 1)
	assert_eq "$(jpy '[d["summary"]["infected"], d["summary"]["limits"], d["not_scanned"]]' <<<"$out")" \
		"[0,1,[{\"path\":\"$T/many.zip\",\"limit\":\"Heuristics.Limits.Exceeded.MaxFiles\"}]]"
}

@test "scan limits: limits_action = \"quarantine\" moves a zip over max_files into the quarantine" {
	scan_policy --scan "allow_unsigned_defs = true; max_files = 5; max_filesize_mb = 1; limits_action = \"quarantine\";"
	scan_start
	make_zip "$T/many.zip" 20
	run ctl scan "$T/many.zip"
	assert_eq "$status" 0
	assert_contains "$output" "$T/many.zip: not scanned: limit (Heuristics.Limits.Exceeded.MaxFiles)"
	assert_eq "$(slast scan_limit | jpy '[d["path"], d["limit"], d["action"]]')" \
		"[\"$T/many.zip\",\"MaxFiles\",\"quarantined\"]"
	[ ! -e "$T/many.zip" ]
	assert_eq "$(ctl --json quarantine list | jpy '[e["original_path"] for e in d["items"]]')" "[\"$T/many.zip\"]"
	assert_eq "$(scount detection)" 0
	# The quarantine holds files up to max_filesize_mb: a bigger one stays
	# where it is, and the event says why.
	head -c 2097152 /dev/zero >"$T/big.bin"
	run ctl scan "$T/big.bin"
	assert_eq "$status" 0
	assert_contains "$output" "$T/big.bin: not scanned: limit (Heuristics.Limits.Exceeded.MaxFileSize)"
	assert_eq "$(slast scan_limit | jpy '[d["path"], d["limit"], d["action"], d["error"]]')" \
		"[\"$T/big.bin\",\"MaxFileSize\",\"quarantine_failed\",\"File too large\"]"
	[ -f "$T/big.bin" ]
}

# The file monitor with on_execute = "block" on a tmpfs of its own.
limits_fs_policy() {
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=0755 adv-scand-e2e "$W"
	MOUNTS+=("$W")
	scan_policy --scan "allow_unsigned_defs = true; max_filesize_mb = 1; $1" \
		"monitor_file_copies_moves = true;" "monitor_process_execution = true;" \
		"device_flow_correlation = false;" \
		"file_monitor = { mounts_include = [ \"$W\" ]; on_execute = \"block\"; };"
}

# exec_as_nobody FILE: executes FILE as nobody; EXEC_OUT is "ok" or the errno name.
exec_as_nobody() {
	EXEC_OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$PYTHON" -c '
import errno, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], [sys.argv[1]])
    except OSError as e:
        print(errno.errorcode[e.errno]); sys.stdout.flush(); os._exit(1)
_, st = os.waitpid(pid, 0)
if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0:
    print("ok")
' "$1")
}

# big_true FILE: /bin/true padded with zeros to 2 MiB (over max_filesize_mb 1); it still runs.
big_true() {
	cp /bin/true "$1"
	truncate -s 2M "$1"
	chmod 0755 "$1"
}

# limit_ev TRIGGER: true once a scan_limit event of TRIGGER is logged.
limit_ev() {
	[ "$(sev "len([e for e in of('scan_limit') if e.get('trigger') == '$1'])")" -gt 0 ]
}

@test "scan limits: on_execute block runs a program over the size limit, reported as scan_limit" {
	limits_fs_policy ""
	scan_start
	big_true "$W/big-true"
	wait_for -t "$SCAN_WAIT" limit_ev close_write
	exec_as_nobody "$W/big-true"
	assert_eq "$EXEC_OUT" ok "execution of a file over the limit"
	# A new ctime: the execution waits for a scan of its own, and is allowed.
	chmod 0755 "$W/big-true"
	exec_as_nobody "$W/big-true"
	assert_eq "$EXEC_OUT" ok
	wait_for -t "$SCAN_WAIT" limit_ev exec
	assert_eq "$(sev "sorted(set((e['path'], e['limit'], e['action']) for e in of('scan_limit')))")" \
		"[[\"$W/big-true\",\"MaxFileSize\",\"reported\"]]"
	# The process that executes it (nobody's python, before the execve).
	assert_eq "$(sev "sorted(set(e['process']['uid'] for e in of('scan_limit') if e['trigger'] == 'exec'))")" \
		"[$(id -u nobody)]"
	assert_eq "$(scount exec_blocked)" 0
	assert_eq "$(scount exec_detected)" 0
	assert_eq "$(scount detection)" 0
}

@test "scan limits: limits_action = \"block\" refuses the execution (EPERM)" {
	limits_fs_policy "limits_action = \"block\";"
	scan_start
	big_true "$W/big-true"
	wait_for -t "$SCAN_WAIT" s_has_event scan_limit
	exec_as_nobody "$W/big-true"
	assert_eq "$EXEC_OUT" EPERM
	wait_for s_has_event exec_blocked
	assert_eq "$(slast exec_blocked | jpy '[d["path"], d["signature"]]')" \
		"[\"$W/big-true\",\"Heuristics.Limits.Exceeded.MaxFileSize\"]"
	[ -f "$W/big-true" ]
	assert_eq "$(scount detection)" 0
}
