#!/usr/bin/env bats
# Fault 21, Event log cannot be written: the log directory on a full tmpfs.
# Events wait in memory; once there is room again, the next re-check writes
# them and clears the fault.

load helpers

setup() {
	e2e_setup
	mkdir -p "$LOG"
	if ! mount -t tmpfs -o size=64k,mode=0750 tmpfs "$LOG" 2>"$T/mount.err"; then
		skip "cannot mount a tmpfs here: $(cat "$T/mount.err")"
	fi
	MOUNTS+=("$LOG")
}

# One raise and clear of fault 5 (two events); fails if either never comes.
toggle_fault5() {
	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5 || return
	chmod 0755 "$PREFIX/lib"
	wait_for fault_cleared 5
}

@test "fault 21: a full log filesystem raises it with path and errno; room again flushes the waiting events and clears it" {
	start_picketd
	# Fill the filesystem (dd stops at ENOSPC).
	dd if=/dev/zero of="$LOG/fill" bs=4k 2>/dev/null || true
	assert_eq "$(df --output=avail -B1 "$LOG" | tail -1 | tr -d ' ')" 0 "free bytes"

	# events.jsonl may still have room in its last page: raise and clear
	# fault 5 until a write fails.
	n=0
	while [ "$(fault_state 21)" != active ]; do
		n=$((n + 1))
		[ "$n" -le 40 ] || fail "fault 21 not raised after $n rounds of events"
		toggle_fault5
	done
	assert_match "$(fault_detail 21)" \
		"^$LOG/events.jsonl: No space left on device; [0-9]+ events waiting in memory, 0 lost\$"
	assert_eq "$(fault_get 21 '[f["name"], f["severity"]]')" '["Event log cannot be written","major"]'
	metric_is 'picket_fault_active{id="21",name="Event log cannot be written",severity="major"} 1'
	# The daemon goes on: faults still come and go, their events wait.
	toggle_fault5
	waiting=$(fault_detail 21 | sed -E 's/.*; ([0-9]+) events waiting.*/\1/')
	[ "$waiting" -ge 3 ] || fail "only $waiting events waiting"
	# Every line in the file is whole.
	events_py 'len(ev)' >/dev/null
	assert_eq "$(count_events fault_raised 21)" 0

	rm "$LOG/fill"
	wait_for fault_cleared 21
	# The waiting events are in the log now, in order, none lost: seq 1..N.
	assert_eq "$(events_py '[e["seq"] for e in all_ev] == list(range(1, len(all_ev) + 1))')" true "seq without gaps"
	assert_eq "$(fault_history 21)" "fault_raised fault_cleared"
	assert_match "$(last_event fault_raised 21 | jpy 'd["fault"]["detail"]')" \
		"^$LOG/events.jsonl: No space left on device; [0-9]+ events waiting in memory, 0 lost\$"
	# Fault 5 came and went n + 1 times, all of them logged.
	assert_eq "$(count_events fault_raised 5)" $((n + 1))
	assert_eq "$(count_events fault_cleared 5)" $((n + 1))
	metric_is 'picket_fault_active{id="21",name="Event log cannot be written",severity="major"} 0'
	metric_is 'picket_events_lost_total 0'
	# And the log takes new events again.
	toggle_fault5
	assert_eq "$(count_events fault_raised 5)" $((n + 2))
}
