#!/usr/bin/env bats
# Fault 16, Incompatible kernel: the release in the host view against the
# policy's min_kernel (the BPF features are probed on the real kernel, which
# has them all here).

load helpers

F16_METRIC='picket_fault_active{id="16",name="Incompatible kernel",severity="critical"}'
# One cause, one fault: 16 names the monitor it keeps from starting (the
# network monitor is on in these tests' policy).
TAKES_DOWN="; not started: the network monitor (9)"

@test "fault 16: kernel 4.14.0 is older than the minimum 5.8; 6.1 clears it" {
	put "$ROOT/proc/sys/kernel/osrelease" "4.14.0"
	start_picketd
	assert_eq "$(active_faults)" "16"
	assert_eq "$(fault_detail 16)" "kernel 4.14.0 is older than the minimum 5.8$TAKES_DOWN"
	assert_eq "$(fault_get 16 '[f["name"], f["severity"]]')" '["Incompatible kernel","critical"]'
	expect_health 16
	run -0 ctl status
	assert_match "$output" "Faults:    [0-9]+ critical"
	assert_contains "$output" "kernel 4.14.0, root $ROOT"
	# Long lines wrap: compare with the blanks squeezed.
	assert_contains "$(tr -s ' \n' '  ' <<<"$output")" \
		" ID 16 - critical: Incompatible kernel: kernel 4.14.0 is older than the minimum 5.8"
	metric_is "$F16_METRIC 1"
	expect_severity_count critical 1

	put "$ROOT/proc/sys/kernel/osrelease" "6.1.0-13-amd64"
	wait_for fault_cleared 16
	assert_eq "$(fault_history 16)" "fault_raised fault_cleared"
	metric_is "$F16_METRIC 0"
	expect_health
	expect_severity_count critical 0
	# Every feature the monitors use is probed on the real kernel: 6.18 has them all.
	assert_eq "$(ctl --json status | jpy '[d["host"]["kernel_missing"], d["host"]["kernel_missing_optional"]]')" '["",""]'

}

@test "fault 16: releases compare by number, against the policy's min_kernel" {
	put "$ROOT/proc/sys/kernel/osrelease" "5.10.0-28-amd64"
	write_policy 'min_kernel = "5.9";'
	start_picketd
	# 5.10 is newer than 5.9, though not as a string.
	assert_eq "$(fault_state 16)" cleared

	write_policy 'min_kernel = "5.11";'
	run -0 ctl policy reload
	assert_eq "$output" "policy reloaded from $POLICY"
	wait_for fault_active 16
	assert_eq "$(fault_detail 16)" "kernel 5.10.0-28-amd64 is older than the minimum 5.11$TAKES_DOWN"

	write_policy 'min_kernel = "5.10";'
	run -0 ctl policy reload
	wait_for fault_cleared 16
}

@test "fault 16: an unreadable kernel release is a fault with the reason" {
	put "$ROOT/proc/sys/kernel/osrelease" ""
	start_picketd
	assert_eq "$(fault_detail 16)" "kernel release unreadable: No data available$TAKES_DOWN"
	rm "$ROOT/proc/sys/kernel/osrelease"
	wait_for fault_detail_is 16 "kernel release unreadable: No such file or directory$TAKES_DOWN"
	put "$ROOT/proc/sys/kernel/osrelease" "6.12.38+deb12-amd64"
	wait_for fault_cleared 16
	assert_eq "$(fault_history 16)" "fault_raised fault_cleared"
}
