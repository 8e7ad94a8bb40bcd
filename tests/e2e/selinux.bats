#!/usr/bin/env bats
# Fault 19, SELinux policy missing or disabled: enforcing SELinux in the
# host view without the picket_bpf module in the policy store.

load helpers

setup() {
	e2e_setup
	put "$ROOT/sys/fs/selinux/enforce" 1
	put "$ROOT/etc/selinux/config" '# This file controls the state of SELinux on the system.
SELINUX=enforcing
SELINUXTYPE=targeted'
	MODULES=$ROOT/var/lib/selinux/targeted/active/modules
	mkdir -p "$MODULES/100/base" "$MODULES/200/container"
}

@test "fault 19: enforcing without picket_bpf; installed clears; disabled raises; permissive clears" {
	start_picketd
	assert_eq "$(active_faults)" "19"
	assert_eq "$(fault_detail 19)" \
		"SELinux is enforcing (policy targeted) and module picket_bpf is not installed in /var/lib/selinux/targeted/active/modules"
	assert_eq "$(fault_get 19 '[f["name"], f["severity"]]')" '["SELinux policy missing or disabled","major"]'
	assert_contains "$(fault_get 19 'f["remediation"]')" \
		"'allow unconfined_service_t self:bpf { map_create map_read map_write prog_load prog_run };'"
	metric_is 'picket_fault_active{id="19",name="SELinux policy missing or disabled",severity="major"} 1'

	mkdir -p "$MODULES/400/picket_bpf"
	wait_for fault_cleared 19

	mkdir -p "$MODULES/disabled"
	: >"$MODULES/disabled/picket_bpf"
	wait_for fault_active 19
	assert_eq "$(fault_detail 19)" \
		"SELinux is enforcing (policy targeted) and module picket_bpf is disabled (/var/lib/selinux/targeted/active/modules/disabled/picket_bpf)"

	put "$ROOT/sys/fs/selinux/enforce" 0
	wait_for fault_cleared 19
	assert_eq "$(fault_history 19)" "fault_raised fault_cleared fault_raised fault_cleared"
	assert_eq "$(fault_get 19 'f["raise_count"]')" 2
	metric_is 'picket_fault_active{id="19",name="SELinux policy missing or disabled",severity="major"} 0'
}

@test "fault 19: the policy store follows SELINUXTYPE" {
	put "$ROOT/etc/selinux/config" 'SELINUX=enforcing
SELINUXTYPE="mls"'
	start_picketd
	assert_eq "$(fault_detail 19)" \
		"SELinux is enforcing (policy mls) and module picket_bpf is not installed in /var/lib/selinux/mls/active/modules"
	# Installed for targeted only: still missing for mls.
	mkdir -p "$MODULES/400/picket_bpf"
	wait_recheck
	assert_eq "$(fault_state 19)" active
	mkdir -p "$ROOT/var/lib/selinux/mls/active/modules/400/picket_bpf"
	wait_for fault_cleared 19
}

@test "fault 19: not raised when SELinux is off or permissive" {
	rm "$ROOT/sys/fs/selinux/enforce"
	start_picketd
	assert_eq "$(fault_state 19)" cleared
	put "$ROOT/sys/fs/selinux/enforce" 0
	wait_recheck
	assert_eq "$(fault_state 19)" cleared
	put "$ROOT/sys/fs/selinux/enforce" 1
	wait_for fault_active 19
	rm "$ROOT/sys/fs/selinux/enforce"
	wait_for fault_cleared 19
}
