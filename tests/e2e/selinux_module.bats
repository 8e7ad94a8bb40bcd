#!/usr/bin/env bats
# The SELinux module picket_bpf (packaging/selinux/picket_bpf.te, fault 19's
# remedy) against Debian's reference policy (selinux-policy-default): each
# test works on a copy of this host's policy root (semodule -p), links the
# policy with Debian's own tools and reads the result with sesearch.  Nothing
# here needs SELinux to be on, and the host's own policy store is never
# written.

load helpers

PP=$PICKET_BUILD/packaging/picket_bpf.pp
BPF_PERMS="{ map_create map_read map_write prog_load prog_run }"

setup() {
	e2e_setup
	[ -f "$PP" ] || fail "no $PP (checkpolicy, semodule-utils)"
	command -v semodule >/dev/null || fail "no semodule (policycoreutils)"
	command -v sesearch >/dev/null || fail "no sesearch (setools)"
	[ -d /var/lib/selinux/default ] || fail "no reference policy store (selinux-policy-default)"
	R=$T/selinux-root
	mkdir -p "$R/etc" "$R/var/lib"
	cp -a /etc/selinux "$R/etc/"
	cp -a /var/lib/selinux "$R/var/lib/"
	POLICY=$(ls "$R"/etc/selinux/default/policy/policy.* | head -n 1)
}

# module ARGS...: semodule on the copy (its only chatter: a user of the
# policy without an account here).
module() {
	run semodule -p "$R" "$@"
	[ "$status" -eq 0 ] || fail "semodule $*: $output"
}

bpf_rules() {
	sesearch -A -c bpf -s "$1" -ds "$POLICY" | grep -v '^$' || true
}

@test "picket_bpf: installs into Debian's reference policy, which has no unconfined_service_t" {
	# The 1.0 module required RHEL's unconfined_service_t and was refused
	# whole here ("Failed to resolve typeattributeset statement").
	[ -z "$(seinfo -t unconfined_service_t "$POLICY" 2>/dev/null | grep -w 'type unconfined_service_t')" ] ||
		fail "this policy has unconfined_service_t"
	module -i "$PP"
	assert_eq "$(semodule -p "$R" -l | grep -x picket_bpf)" picket_bpf
	assert_eq "$(bpf_rules initrc_t)" "allow initrc_t initrc_t:bpf $BPF_PERMS;"
	module -r picket_bpf
	assert_eq "$(bpf_rules initrc_t)" ""
}

@test "picket_bpf: without the unconfined module, services (initrc_t) may use eBPF only with it" {
	# A service started by systemd from a bin_t binary runs in initrc_t ...
	assert_eq "$(sesearch -T -s init_t -t bin_t -c process "$POLICY" | grep -v '^$')" \
		"type_transition init_t bin_t:process initrc_t;"
	# ... which only the unconfined module lets use eBPF.
	module -d unconfined
	assert_eq "$(sesearch -A -c bpf -s initrc_t "$POLICY" | grep -v '^$')" ""
	module -i "$PP"
	assert_eq "$(bpf_rules initrc_t)" "allow initrc_t initrc_t:bpf $BPF_PERMS;"
}

@test "picket_bpf: a policy with unconfined_service_t (RHEL's, declared here by a stand-in module) gets the rule too" {
	cat >"$T/picket_standin.te" <<'TE'
module picket_standin 1.0;
require {
	attribute domain;
	role system_r;
}
type unconfined_service_t;
typeattribute unconfined_service_t domain;
role system_r types unconfined_service_t;
TE
	checkmodule -M -m -o "$T/picket_standin.mod" "$T/picket_standin.te" >/dev/null
	semodule_package -o "$T/picket_standin.pp" -m "$T/picket_standin.mod"
	# picket_bpf first: its optional block comes alive when the type does.
	module -i "$PP"
	assert_eq "$(seinfo -t unconfined_service_t "$POLICY" 2>&1 | grep -c 'type unconfined_service_t')" 0
	module -i "$T/picket_standin.pp"
	assert_eq "$(bpf_rules unconfined_service_t)" \
		"allow unconfined_service_t unconfined_service_t:bpf $BPF_PERMS;"
	assert_eq "$(bpf_rules initrc_t)" "allow initrc_t initrc_t:bpf $BPF_PERMS;"
}
