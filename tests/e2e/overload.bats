#!/usr/bin/env bats
# Fault 18, event monitoring overloaded: a flood from one program (the load
# generator, src/loadgen) overflows a monitor's kernel ring buffer; the fault
# names the program; degraded mode keeps the critical set; excluding the
# program stops its events in the kernel and the fault clears after the
# (shortened) calm period.  The counters in status and in the metrics file
# add up to the load generator's own counts.

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	OTHER_FAULTS="6 7 20 8 9 22"
	LOADGEN=$PICKET_BUILD/src/loadgen/picket-load
	[ -x "$LOADGEN" ] || fail "no picket-load in $PICKET_BUILD"
	LOADGEN=$(realpath "$LOADGEN")
	# The connect floods must stay above the rate low-water mark while they
	# run, or degraded mode calms down under them and the fault flaps.
	# Under qemu's emulation (tests/kernels) a flood makes about 400
	# connects a second, here tens of thousands.
	RATE_LOW=1000
	[ -z "${PICKET_KERNEL_MATRIX-}" ] || RATE_LOW=50
}

# status_get EXPR: EXPR in Python on m = the "monitors" object of `status --json`.
monitors_get() {
	ctl --json status | jpy "(lambda m: $1)(d['monitors'])"
}

mode_is() {
	[ "$(monitors_get 'm["overload"]["mode"]')" = "$1" ]
}

@test "fault 18: an exec flood overflows a small ring buffer; the fault names the program; seen + lost = made; calm clears it" {
	# Under qemu's emulation (tests/kernels) an exec takes a tenth of a
	# second: the flood is too slow to overflow even a 4 KiB ring.
	[ -z "${PICKET_KERNEL_MATRIX-}" ] || skip "an exec flood under TCG cannot overflow the ring buffer"
	# A 4 KiB ring holds four exec events: a flood loses most of them.
	write_policy "monitor_process_execution = true;" "device_flow_correlation = false;" \
		"process_monitor = { ring_buffer_kb = 4; log_exec = true; };" \
		"faults = { overload_grace = 1; overload_calm = 2; rate_low_water = $RATE_LOW; };" \
		"event_log = { max_bytes = 1073741824; };"
	start_picketd
	bg sh -c '"$1" --execs max --duration 6 >"$2"' sh "$LOADGEN" "$T/load.json"
	local lg=$BG_PID made pid
	# Raised while the flood runs (within the 1 s grace, give or take a tick).
	wait_for fault_active 18
	assert_match "$(fault_detail 18)" "top sources: $LOADGEN [0-9]+/s"
	assert_match "$(fault_detail 18)" "^[0-9]+ events lost"
	# Lost execs are of the critical set: once degraded, more of them make
	# the fault critical (test_overload.c pins when); the flood may end first.
	assert_match "$(fault_get 18 'f["severity"]')" "^(major|critical)$"
	wait_for -t 20 proc_gone "$lg"
	made=$(jpy 'd["execs"]' <"$T/load.json")
	pid=$(jpy 'd["pid"]' <"$T/load.json")
	[ "$made" -gt 100 ] || fail "the flood made only $made execs"

	# Every exec the generator made was either seen (an event naming it as
	# the parent) or counted lost in the kernel, where lost events are
	# counted by the process that caused them too (the flood may lose forks
	# and exits rather than execs: then lost is 0 and seen is all).
	local seen lost
	seen=$(events_py "len([e for e in of('exec') if e['process']['ppid'] == $pid])")
	lost=$(monitors_get "sum(s['lost'] for s in m['process']['lost_by_source'] if s['pid'] == $pid and s['type'] == 'exec')")
	[ "$(monitors_get 'm["process"]["dropped_by_type"]["exec"]')" -ge "$lost" ]
	assert_eq "$((seen + lost))" "$made" "execs seen ($seen) + lost ($lost)"

	# The flood is over: calm for overload_calm seconds clears it.
	wait_for fault_cleared 18 || fail "$(monitors_get "m['overload']")"
	assert_eq "$(monitors_get 'm["overload"]["mode"]')" full
	assert_eq "$(events_py "[e['type'] for e in ev if e['type'] in ('mode_degraded', 'mode_full')]")" \
		'["mode_degraded","mode_full"]'
	wait_for grep -q '^picket_monitor_events_dropped_total{monitor="process"} [1-9]' "$METRICS"
	assert_contains "$(cat "$METRICS")" 'picket_mode_degraded 0'
}

# has_exec ARGV: an exec event whose argv starts with ARGV.
has_exec() {
	[ "$(events_py "len([e for e in of('exec') if e['process']['argv'].startswith('$1')])")" -gt 0 ]
}

@test "fault 18: a connect flood degrades to the critical set; excluding the program stops it in the kernel and clears the fault" {
	# Under qemu's emulation (tests/kernels) the calm after the exclusion
	# did not come within 30 s on 6.1, and on 6.12 the execution made while
	# degraded was not seen in 30 s: not yet understood, so the guests run
	# the degrade of the next test and the clear only here.
	[ -z "${PICKET_KERNEL_MATRIX-}" ] || skip "a connect flood's exclusion and calm are not reliable under TCG"
	local base=("monitor_process_execution = true;" "device_flow_correlation = true;"
		"network_monitor = { ring_buffer_kb = 4; };"
		"faults = { overload_grace = 1; overload_calm = 2; rate_low_water = $RATE_LOW; };"
		"event_log = { max_bytes = 1073741824; };")
	write_policy "${base[@]}"
	start_picketd
	local pid=$PICKETD_PID
	bg "$LOADGEN" --connects max --duration 120

	wait_for fault_active 18
	assert_match "$(fault_detail 18)" "top sources: $LOADGEN [0-9]+/s"
	assert_eq "$(monitors_get 'm["overload"]["mode"]')" degraded
	assert_eq "$(monitors_get '[m["network"]["degraded"], m["process"]["degraded"]]')" "[true,true]"
	run -0 ctl status
	assert_contains "$output" "ID 18 - "
	assert_match "$output" "Overload:  yes: degraded mode, only the critical set is monitored, [0-9]+ events/s, [0-9]+ lost"
	assert_match "$output" "Busiest:   $LOADGEN [0-9]+/s"
	# Degraded: inbound and closed flows are left out in the kernel ...
	wait_for test "$(monitors_get 'm["network"]["suppressed"]')" -gt 0
	# ... while the critical set is whole: a new program's execution.
	cp /bin/true "$T/new-binary"
	"$T/new-binary" degraded-run
	wait_for has_exec "$T/new-binary degraded-run"

	# The remedy: exclude the busy program.  Its events stop in the kernel.
	write_policy "${base[@]}" "process_exclusions = [ \"$LOADGEN\" ];"
	run -0 ctl policy reload
	wait_for fault_cleared 18
	assert_eq "$(monitors_get 'm["overload"]["mode"]')" full
	assert_eq "$(monitors_get '[m["network"]["degraded"], m["process"]["degraded"]]')" "[false,false]"
	local before
	before=$(monitors_get 'm["network"]["excluded"]')
	wait_for test "$(monitors_get 'm["network"]["excluded"]')" -gt "$before"
	# The same daemon all along: a reload, not a restart.
	assert_eq "$(ctl --json status | jpy 'd["pid"]')" "$pid"
	assert_eq "$(fault_history 18 | tr ' ' '\n' | sort -u | tr '\n' ' ')" "fault_cleared fault_raised "
}

# file_scans PATH: how many file_scan events name PATH.
file_scans() {
	sev "len([e for e in of('file_scan') if e['path'] == '$1'])"
}

file_scanned() {
	[ "$(file_scans "$1")" -gt 0 ]
}

@test "fault 18: degraded, the file monitor scans on access only executables and critical_paths; executions are still checked" {
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=0755 overload-e2e "$W"
	MOUNTS+=("$W")
	mkdir -p "$W/crit" "$W/other"
	printf '#!/bin/sh\nexit 0\n' >"$T/tool"
	chmod +x "$T/tool"
	scan_policy "monitor_process_execution = true;" "device_flow_correlation = true;" \
		"monitor_file_copies_moves = true;" \
		"file_monitor = { mounts_include = [ \"$W\" ]; critical_paths = [ \"$W/crit\" ]; report_clean = true; on_execute = \"audit\"; };" \
		"network_monitor = { ring_buffer_kb = 4; };" \
		"faults = { overload_grace = 1; overload_calm = 2; rate_low_water = $RATE_LOW; };" \
		"event_log = { max_bytes = 1073741824; };"
	scan_start
	# (Not asserted: not degraded yet.  Any flood on the host degrades picketd.)
	assert_eq "$(monitors_get 'm["file"]["suppressed"]')" 0
	bg "$LOADGEN" --connects max --duration 120

	wait_for fault_active 18
	assert_eq "$(monitors_get '[m["overload"]["mode"], m["file"]["degraded"]]')" '["degraded",true]'
	echo crit >"$W/crit/conf"
	echo other >"$W/other/data"
	# Executable from its creation (cp keeps the source's mode).
	cp "$T/tool" "$W/other/tool"
	wait_for file_scanned "$W/other/tool"
	"$W/other/tool"
	assert_eq "$(file_scans "$W/crit/conf")" 1
	assert_eq "$(file_scans "$W/other/data")" 0
	# Written after data, scanned: data's event was handled, and suppressed.
	# The execution is scanned too: no verdict is cached on tmpfs (scanq.h).
	assert_eq "$(monitors_get '[m["file"]["suppressed"], m["file"]["scanned"], m["file"]["events"]["close_write"], m["file"]["events"]["open_exec"]]')" \
		"[1,3,3,1]"
	assert_eq "$(monitors_get 'm["overload"]["mode"]')" degraded
}
