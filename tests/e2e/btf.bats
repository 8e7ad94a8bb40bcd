#!/usr/bin/env bats
# Fault 11, Kernel type information missing: no /sys/kernel/btf/vmlinux in
# the host view and no <btf_dir>/<release>.btf (btf_dir is looked up inside
# the view's root); the remediation names the distribution's package.

load helpers

setup() {
	e2e_setup
	rm "$ROOT/sys/kernel/btf/vmlinux"
	BTF_FILE=$PREFIX/lib/btf/$VIEW_RELEASE.btf
	# One cause, one fault: 11 names the monitor it keeps from starting.
	TAKES_DOWN="; not started: the network monitor (9)"
}

@test "fault 11: no BTF on a Debian view names linux-headers; a BTF file in btf_dir clears it" {
	start_picketd
	assert_eq "$(active_faults)" "11"
	assert_eq "$(fault_detail 11)" \
		"kernel $VIEW_RELEASE exposes no BTF (/sys/kernel/btf/vmlinux) and $BTF_FILE does not exist; os debian$TAKES_DOWN"

	# Global options come before the command; after it they are refused.
	run -2 ctl faults show 11 --json
	assert_contains "$output" "faults: unknown option '--json'"
	run -0 ctl --json faults show 11
	assert_eq "$(jpy 'd["fault"]["remediation"]' <<<"$output")" \
		"Debian family: install linux-headers-$VIEW_RELEASE and the matching debug image (apt-get install linux-headers-\$(uname -r) linux-image-\$(uname -r)-dbg), or place a BTF file for this release at $PREFIX/lib/btf/$VIEW_RELEASE.btf. Then restart the connector."
	assert_eq "$(jpy '[d["fault"][k] for k in ("id", "name", "severity", "state", "applies")]' <<<"$output")" \
		'[11,"Kernel type information missing","major","active",true]'
	metric_is 'picket_fault_active{id="11",name="Kernel type information missing",severity="major"} 1'

	# The BTF file goes under the view's root, at the policy's btf_dir.
	mkdir -p "$ROOT$PREFIX/lib/btf"
	: >"$ROOT$BTF_FILE.tmp"
	mv "$ROOT$BTF_FILE.tmp" "$ROOT$BTF_FILE"
	wait_for fault_cleared 11
	assert_eq "$(fault_history 11)" "fault_raised fault_cleared"
	metric_is 'picket_fault_active{id="11",name="Kernel type information missing",severity="major"} 0'

	# A BTF file in the real btf_dir does not count for a view.
	rm "$ROOT$BTF_FILE"
	: >"$BTF_FILE"
	wait_for fault_active 11
}

@test "fault 11: a Red Hat view names kernel-devel; the remedy follows os-release without a new event" {
	put "$ROOT/etc/os-release" "$OS_RELEASE_RHEL"
	start_picketd
	assert_eq "$(fault_detail 11)" \
		"kernel $VIEW_RELEASE exposes no BTF (/sys/kernel/btf/vmlinux) and $BTF_FILE does not exist; os rhel$TAKES_DOWN"
	remedy=$(fault_get 11 'f["remediation"]')
	assert_eq "$remedy" \
		"Red Hat family: install kernel-devel and kernel-debuginfo for $VIEW_RELEASE (dnf install kernel-devel-\$(uname -r) kernel-debuginfo-\$(uname -r)), or place a BTF file for this release at $PREFIX/lib/btf/$VIEW_RELEASE.btf. Then restart the connector."

	put "$ROOT/etc/os-release" "$OS_RELEASE_DEBIAN"
	wait_for fault_detail_matches 11 '; os debian; not started: the network monitor \(9\)$'
	assert_contains "$(fault_get 11 'f["remediation"]')" "install linux-headers-$VIEW_RELEASE"
	assert_eq "$(fault_history 11)" "fault_raised"
	assert_eq "$(fault_get 11 'f["raise_count"]')" 1
}

@test "fault 11: Oracle Linux UEK, an unknown distribution, and an explicit btf_dir" {
	put "$ROOT/etc/os-release" 'NAME="Oracle Linux Server"
ID="ol"
ID_LIKE="fedora"
VERSION_ID="8.9"'
	put "$ROOT/proc/sys/kernel/osrelease" "5.15.0-200.131.27.el8uek.x86_64"
	start_picketd
	assert_contains "$(fault_get 11 'f["remediation"]')" \
		"Oracle Linux UEK: install kernel-uek-devel and kernel-uek-debuginfo for 5.15.0-200.131.27.el8uek.x86_64, or place"
	assert_eq "$(active_faults)" "11"

	rm "$ROOT/etc/os-release"
	wait_for fault_detail_matches 11 '; os unknown; not started: the network monitor \(9\)$'
	assert_contains "$(fault_get 11 'f["remediation"]')" \
		"install the kernel debug information for 5.15.0-200.131.27.el8uek.x86_64 from your distribution"

	write_policy 'btf_dir = "/usr/lib/picket-btf";'
	run -0 ctl policy reload
	wait_for fault_detail_matches 11 " and /usr/lib/picket-btf/5.15.0-200.131.27.el8uek.x86_64.btf does not exist; os unknown; not started: the network monitor \\(9\\)\$"
	mkdir -p "$ROOT/usr/lib/picket-btf"
	: >"$ROOT/usr/lib/picket-btf/5.15.0-200.131.27.el8uek.x86_64.btf"
	wait_for fault_cleared 11
	assert_eq "$(fault_history 11)" "fault_raised fault_cleared"
}

@test "fault 11: /sys/kernel/btf/vmlinux appearing in the view clears it" {
	start_picketd
	assert_eq "$(fault_state 11)" active
	: >"$ROOT/sys/kernel/btf/vmlinux"
	wait_for fault_cleared 11
	expect_health
}
