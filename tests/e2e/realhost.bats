#!/usr/bin/env bats
# The real machine: the shipped policy, no --host-root, a correct temporary
# install prefix.  Exactly the faults that are true here are active.

load helpers

@test "real host: the shipped policy reports exactly the faults true on this machine" {
	start_picketd --real-host -c "$REPO/etc/policy.conf" --prefix "$PREFIX"

	# Fault 5 from the scan user and group, computed here the way the
	# daemon's check defines it (NSS, like getpwnam).
	expect_detail=
	note() { expect_detail=${expect_detail:+$expect_detail; }$1; }
	user=$(getent passwd picket-scan) || note "scan user 'picket-scan' does not exist"
	group=$(getent group picket-scan) || note "scan group 'picket-scan' does not exist"
	if [ -n "$user" ] && [ "$(cut -d: -f3 <<<"$user")" = 0 ]; then
		note "scan user 'picket-scan' is uid 0"
	fi
	if [ -n "$user" ] && [ -n "$group" ] &&
		[ "$(cut -d: -f4 <<<"$user")" != "$(cut -d: -f3 <<<"$group")" ]; then
		note "scan user 'picket-scan' has primary group $(cut -d: -f4 <<<"$user"), not 'picket-scan' ($(cut -d: -f3 <<<"$group"))"
	fi
	expected=${expect_detail:+5}

	# 11, 16 and 19 follow this machine: BTF, a new kernel, SELinux off.
	[ -e /sys/kernel/btf/vmlinux ] || skip "this kernel exposes no BTF"
	if [ "$(cat /sys/fs/selinux/enforce 2>/dev/null)" = 1 ]; then
		skip "SELinux is enforcing here"
	fi

	assert_eq "$(active_faults)" "$expected" "active faults (but $OTHER_FAULTS)"
	if [ -n "$expected" ]; then
		assert_eq "$(fault_detail 5)" "$expect_detail"
	fi
	for id in 11 16 19 21; do
		assert_eq "$(fault_state $id)" cleared "state of fault $id"
	done

	run -0 ctl --json status
	assert_eq "$(jpy '[d["host"]["root"], d["host"]["kernel"], d["policy"]["path"]]' <<<"$output")" \
		"[\"/\",\"$(uname -r)\",\"$REPO/etc/policy.conf\"]"
	pretty=$(. /etc/os-release && echo "$PRETTY_NAME")
	assert_eq "$(jpy 'd["host"]["os"]' <<<"$output")" "$pretty"
	run -0 ctl --json policy show
	assert_eq "$(jpy '[d["policy"]["install_prefix"], d["policy"]["recheck_interval"]]' <<<"$output")" \
		'["/opt/picket",60]'
	# --prefix overrides the policy's install_prefix: a bad dir in it is fault 5.
	chmod 0700 "$PREFIX/share"
	wait_for fault_active 5
	assert_contains "$(fault_detail 5)" "install directory $PREFIX/share is mode 0700 owner 0:0, must be 0755 root:root"
}
