#!/usr/bin/env bats
# The real-time monitors as a whole: the process monitor's exec events, the
# gate that keeps eBPF off an incompatible or BTF-less kernel (faults 16, 11)
# while the file monitor goes on with fanotify, fault 22, and the policy
# turning monitors on and off without a restart.  fsmon.bats and
# netmon.bats test the file and network monitors themselves.

load helpers

setup() {
	e2e_setup
	# The monitors' own faults are what these tests compare.
	OTHER_FAULTS="6 7 20"
}

# monitor_state NAME: the state of monitor NAME in `picketctl status`.
monitor_state() {
	ctl --json status | jpy "d['monitors']['$1']['state']"
}

monitor_is() {
	[ "$(monitor_state "$1")" = "$2" ]
}

monitor_field() {
	ctl --json status | jpy "d['monitors']['$1'].get('$2', '')"
}

@test "process monitor: an exec of /bin/true is an event naming its parent and argv" {
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;"
	start_picketd
	assert_eq "$(monitor_state process)" running
	assert_eq "$(monitor_field process backend)" ebpf
	assert_eq "$(active_faults)" ""

	sh -c 'echo $$ >"$1/sh.pid"; /bin/true pk-argv-mark "two words"; exit 0' sh "$T"
	local ppid
	ppid=$(cat "$T/sh.pid")
	wait_for has_exec "/bin/true pk-argv-mark"
	assert_eq "$(exec_event "/bin/true pk-argv-mark" '[e["process"][k] for k in ("ppid", "uid", "exe", "comm", "argv")]')" \
		"[$ppid,0,\"/usr/bin/true\",\"true\",\"/bin/true pk-argv-mark two words\"]"
	# The exec of true is one event, and the sh that ran it is its parent.
	assert_eq "$(events_py "len([e for e in of('exec') if e['process']['argv'].startswith('/bin/true pk-argv-mark')])")" 1
	assert_eq "$(events_py "[e['process']['pid'] for e in of('exec') if e['process']['pid'] == $ppid][:1]")" "[$ppid]"
	# Counted in status.
	[ "$(ctl --json status | jpy "d['monitors']['process']['events']['exec']")" -ge 2 ]
}

# has_exec ARGV: an exec event whose argv starts with ARGV.
has_exec() {
	[ "$(events_py "len([e for e in of('exec') if e['process']['argv'].startswith('$1')])")" -gt 0 ]
}

# exec_event ARGV EXPR: EXPR on the first exec event (e) whose argv starts with ARGV.
exec_event() {
	events_py "(lambda e: $2)([e for e in of('exec') if e['process']['argv'].startswith('$1')][0])"
}

@test "process monitor: log_exec = false keeps exec events out of the log; fork and exit on demand" {
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;" \
		"process_monitor = { log_exec = false; log_fork = true; log_exit = true; };"
	start_picketd
	run -3 sh -c 'echo $$ >"$1/sh.pid"; exit 3' sh "$T"
	local pid
	pid=$(cat "$T/sh.pid")
	wait_for events_py "[e for e in of('exit') if e['process']['pid'] == $pid][0]"
	assert_eq "$(events_py "[e['process']['exit_code'] for e in of('exit') if e['process']['pid'] == $pid]")" "[768]"
	assert_eq "$(events_py "len([e for e in of('fork') if e['process']['pid'] == $pid])")" 1
	assert_eq "$(count_events exec)" 0
}

@test "process monitor: a process exclusion keeps its execs out of the log" {
	cp /bin/true "$T/quiet-true"
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;" \
		"process_exclusions = [ \"$T/quiet-true\" ];"
	start_picketd
	"$T/quiet-true" excluded-run
	/bin/true included-run
	wait_for has_exec "/bin/true included-run"
	assert_eq "$(events_py "len([e for e in of('exec') if 'excluded-run' in e['process']['argv']])")" 0
}

@test "faults 8, 9, 22: CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN dropped: each names its step and EPERM; a normal start clears them" {
	command -v capsh >/dev/null || skip "capsh (libcap2-bin) is not installed"
	write_policy "monitor_process_execution = true;" "monitor_file_copies_moves = true;" \
		"device_flow_correlation = true;"
	start_picketd_dropping cap_bpf,cap_perfmon,cap_sys_admin
	assert_eq "$(active_faults)" "8 9 22"
	assert_eq "$(fault_detail 8)" \
		"fanotify: fanotify_init: Operation not permitted; process attribution: /proc only"
	assert_eq "$(fault_detail 9)" "ebpf: load netmon: Operation not permitted"
	assert_eq "$(fault_detail 22)" "ebpf: load procmon: Operation not permitted"
	assert_eq "$(monitor_state process) $(monitor_state file) $(monitor_state network)" \
		"failed failed failed"
	run -0 ctl status
	assert_contains "$output" "process: failed: ebpf: load procmon: Operation not permitted"
	stop_picketd

	start_picketd
	assert_eq "$(active_faults)" ""
	assert_eq "$(monitor_state process) $(monitor_state file) $(monitor_state network)" \
		"running running running"
	local id
	for id in 8 9 22; do
		assert_eq "$(fault_history $id)" "fault_raised fault_cleared" "fault $id"
	done
}


@test "fault 16: an incompatible kernel keeps eBPF off; one root cause names the monitors it takes down" {
	put "$ROOT/proc/sys/kernel/osrelease" "4.14.0"
	write_policy "monitor_process_execution = true;" "monitor_file_copies_moves = true;"
	start_picketd
	assert_eq "$(active_faults)" "16"
	assert_eq "$(fault_detail 16)" "kernel 4.14.0 is older than the minimum 5.8; not started: the process monitor (22) and the network monitor (9); the file monitor names processes from /proc"
	assert_eq "$(fault_get 16 'f["affects"]')" "[9,22]"
	assert_eq "$(fault_get 22 '[f["state"], f["caused_by"]]')" '["cleared",16]'
	assert_eq "$(fault_get 9 '[f["state"], f["caused_by"]]')" '["cleared",16]'
	assert_eq "$(fault_history 22) $(fault_history 9)" " " "9 and 22 are never raised on their own"
	assert_eq "$(monitor_field process ebpf)" "not tried: fault 16: $(fault_detail 16)"
	assert_eq "$(fault_state 8)" cleared
	assert_eq "$(monitor_state file)" running
	assert_eq "$(monitor_field file attribution)" proc
	run -0 ctl status
	assert_contains "$output" "ID 16 - critical: Incompatible kernel: kernel 4.14.0"
	assert_contains "$output" "-> ID 9 - Real-time network monitor failed to start"
	assert_contains "$output" "   ID 22 - Process execution monitor failed to start"
	assert_contains "$output" "Protected: impaired: a protection is off (critical fault)"

	# The kernel is fixed (in the view): the eBPF monitors start at the next tick.
	put "$ROOT/proc/sys/kernel/osrelease" "$VIEW_RELEASE"
	wait_for fault_cleared 16
	wait_for test "$(monitor_state process) $(monitor_state network)" = "running running"
	assert_eq "$(active_faults)" ""
	assert_eq "$(fault_get 22 '"caused_by" in f')" false
	assert_eq "$(fault_history 22) $(fault_history 9)" " "
	assert_eq "$(monitor_field file attribution)" ebpf
}

@test "fault 11: no BTF keeps eBPF off as one root cause; a BTF file for the release in btf_dir lets it load" {
	rm "$ROOT/sys/kernel/btf/vmlinux"
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;"
	start_picketd
	assert_eq "$(active_faults)" "11"
	assert_match "$(fault_detail 11)" "^kernel $VIEW_RELEASE exposes no BTF.*; not started: the process monitor \(22\)$"
	assert_eq "$(fault_get 11 'f["affects"]')" "[22]"
	assert_eq "$(fault_get 22 'f["caused_by"]')" 11
	assert_eq "$(fault_history 22)" ""

	# The running kernel's own BTF, installed as the view's release's file.
	mkdir -p "$ROOT$PREFIX/lib/btf"
	cp /sys/kernel/btf/vmlinux "$ROOT$PREFIX/lib/btf/$VIEW_RELEASE.btf.tmp"
	mv "$ROOT$PREFIX/lib/btf/$VIEW_RELEASE.btf.tmp" "$ROOT$PREFIX/lib/btf/$VIEW_RELEASE.btf"
	wait_for fault_cleared 11
	wait_for test "$(monitor_state process)" = running
	assert_eq "$(fault_history 22)" ""
	/bin/true btf-file-run
	wait_for has_exec "/bin/true btf-file-run"
}

@test "root cause cleared, the monitor still fails: its own fault with its own errno" {
	put "$ROOT/proc/sys/kernel/osrelease" "4.14.0"
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;"
	start_picketd_dropping cap_bpf,cap_perfmon,cap_sys_admin
	assert_eq "$(active_faults)" "16"
	assert_eq "$(fault_get 22 'f["caused_by"]')" 16
	put "$ROOT/proc/sys/kernel/osrelease" "$VIEW_RELEASE"
	wait_for fault_cleared 16
	wait_for fault_active 22
	assert_eq "$(fault_detail 22)" "ebpf: load procmon: Operation not permitted"
	assert_eq "$(fault_get 22 '"caused_by" in f')" false
}

@test "monitors follow policy reloads: off stops and clears, on starts again" {
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;"
	start_picketd
	assert_eq "$(monitor_state process)" running

	write_policy "monitor_process_execution = false;" "device_flow_correlation = false;"
	run -0 ctl policy reload
	assert_eq "$(monitor_state process)" off
	/bin/true while-off
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;"
	run -0 ctl policy reload
	assert_eq "$(monitor_state process)" running
	/bin/true while-on
	wait_for has_exec "/bin/true while-on"
	assert_eq "$(events_py "len([e for e in of('exec') if 'while-off' in e['process']['argv']])")" 0
	assert_contains "$(cat "$DLOG")" "process monitor stopped: the policy turns it off"
}
