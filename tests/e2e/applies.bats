#!/usr/bin/env bats
# "applies": a fault whose feature the policy turns off is never raised, and
# is cleared if it was active; a reload that turns the feature on raises it.

load helpers

setup() {
	e2e_setup
	rm "$ROOT/sys/kernel/btf/vmlinux"
}

@test "applies: no eBPF feature, no fault 11; device_flow_correlation on raises it, off clears it" {
	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = false;"
	start_picketd
	assert_eq "$(active_faults)" ""
	assert_eq "$(fault_get 11 '[f["state"], f["applies"]]')" '["cleared",false]'
	run -0 ctl faults show 11
	assert_contains "$output" "Applies:      no (its feature is off in the policy)"
	wait_recheck
	assert_eq "$(active_faults)" ""
	assert_eq "$(count_events fault_raised)" 0

	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = true;"
	run -0 ctl policy reload
	assert_eq "$output" "policy reloaded from $POLICY"
	# The reload re-checks at once: active when the reply comes.
	assert_eq "$(active_faults)" "11"
	assert_eq "$(fault_get 11 '[f["state"], f["applies"]]')" '["active",true]'
	run -0 ctl --json status
	assert_eq "$(jpy '[d["policy"]["monitor_file_copies_moves"], d["policy"]["device_flow_correlation"]]' <<<"$output")" \
		"[false,true]"

	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = false;"
	run -0 ctl policy reload
	assert_eq "$(active_faults)" ""
	assert_eq "$(fault_get 11 '[f["state"], f["applies"]]')" '["cleared",false]'
	assert_eq "$(events_py "' '.join(e['type'] for e in ev if e['type'] != 'daemon_started')")" \
		"policy_loaded fault_raised policy_loaded fault_cleared"
	assert_eq "$(fault_history 11)" "fault_raised fault_cleared"
}

@test "applies: an old kernel with both monitors off is no fault 16 either; file monitoring alone brings 11 and 16" {
	put "$ROOT/proc/sys/kernel/osrelease" "4.14.0"
	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = false;"
	start_picketd
	wait_recheck
	assert_eq "$(active_faults)" ""

	write_policy "monitor_file_copies_moves = true;" "device_flow_correlation = false;"
	kill -HUP "$PICKETD_PID"
	wait_for has_event policy_loaded
	wait_for fault_active 16
	assert_eq "$(active_faults)" "11 16"
	# Fault 5 does not depend on the monitors: it stays raised whatever the policy.
	chmod 0700 "$PREFIX/bin"
	wait_for fault_active 5
	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = false;"
	run -0 ctl policy reload
	assert_eq "$(active_faults)" "5"
}
