#!/usr/bin/env bats
# Fault state across restarts: persisted in <state>/faults.json, re-checked
# at start (fault_cleared for what is gone, no second fault_raised for what
# holds), and a corrupt state file moved aside.

load helpers

# A Python check that faults.json is the daemon's state document; prints
# "ID:state" for each fault, space-separated.
state_summary() {
	jpy 'd["version"] == 1 and " ".join("%d:%s" % (f["id"], f["state"]) for f in d["faults"] if f["id"] in (5, 11, 16, 19, 21))' \
		<"$STATE/faults.json"
}

@test "restart: an active fault stays raised without a new event; a fixed one is cleared after daemon_started" {
	put "$ROOT/proc/sys/kernel/osrelease" "4.14.0"
	chmod 0777 "$PREFIX/lib"
	start_picketd
	assert_eq "$(active_faults)" "5 16"
	raised_at=$(fault_get 5 'f["raised_at"]')

	stop_picketd || fail "picketd exited with status $? on SIGTERM"
	assert_eq "$(events_py 'ev[-1]["type"]')" daemon_stopping
	assert_eq "$(state_summary)" "5:active 11:cleared 16:active 19:cleared 21:cleared"

	put "$ROOT/proc/sys/kernel/osrelease" "6.1.0-13-amd64"
	start_picketd
	assert_eq "$(active_faults)" "5"
	assert_eq "$(fault_get 5 '[f["raise_count"], f["raised_at"]]')" "[1,$raised_at]"
	assert_eq "$(fault_detail 5)" \
		"install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root"

	# Events of the second run: after its daemon_started.
	second='[e for e in ev[idx(of("daemon_started")[-1]):]]'
	assert_eq "$(count_events daemon_started)" 2
	assert_eq "$(count_events fault_raised 5)" 1
	assert_eq "$(events_py "[e['type'] for e in $second if 'fault' in e]")" '["fault_cleared"]'
	assert_eq "$(events_py "[(e['type'], e['fault']['id']) for e in $second if 'fault' in e]")" \
		'[["fault_cleared",16]]'
	assert_eq "$(fault_history 16)" "fault_raised fault_cleared"
	metric_is 'picket_fault_active{id="5",name="Scan-as-user unavailable",severity="major"} 1'
	metric_is 'picket_fault_active{id="16",name="Incompatible kernel",severity="critical"} 0'
	metric_is 'picket_fault_raised_total{id="5"} 1'
	metric_is 'picket_fault_raised_total{id="16"} 1'
	assert_eq "$(state_summary)" "5:active 11:cleared 16:cleared 19:cleared 21:cleared"

	stop_picketd || fail "picketd exited with status $? on SIGTERM"
	assert_eq "$(state_summary)" "5:active 11:cleared 16:cleared 19:cleared 21:cleared"
}

@test "restart: a persisted fault whose feature the new policy turns off is cleared at start" {
	rm "$ROOT/sys/kernel/btf/vmlinux"
	start_picketd
	assert_eq "$(active_faults)" "11"
	stop_picketd || fail "picketd exited with status $? on SIGTERM"

	write_policy "monitor_file_copies_moves = false;" "device_flow_correlation = false;"
	start_picketd
	assert_eq "$(active_faults)" ""
	assert_eq "$(fault_history 11)" "fault_raised fault_cleared"
	assert_eq "$(fault_get 11 '[f["state"], f["applies"]]')" '["cleared",false]'
}

@test "corrupt state: garbage in faults.json is moved to faults.json.corrupt with a fault_state_reset event" {
	cases=(
		'this is not JSON\n'
		'\n'
		'{"version":1,"faults":[{"id":5,"name":"Scan-as-user unavailable","severity":"major","state":"active"'
		'{"version":2,"faults":[]}\n'
		'{"version":1,"faults":[{"id":99,"name":"x","severity":"major","state":"active","applies":true,"detail":"","raised_at":1,"cleared_at":0,"raise_count":1,"remedy":""}]}\n'
		'{"version":1,"faults":[{"id":5,"name":"x","severity":"fatal","state":"active","applies":true,"detail":"","raised_at":1,"cleared_at":0,"raise_count":1,"remedy":""}]}\n'
		'["version",1]\n'
		'\x00\x01\x02\xff\xfe garbage'
	)
	n=0
	for garbage in "${cases[@]}"; do
		n=$((n + 1))
		STATE=$T/state$n
		METRICS=$STATE/picket.prom
		install -d -m 0700 "$STATE"
		printf '%b' "$garbage" >"$STATE/faults.json"
		cp "$STATE/faults.json" "$T/garbage"

		start_picketd
		assert_eq "$(last_event fault_state_reset | jpy 'd["path"]')" "$STATE/faults.json" \
			"fault_state_reset path for case $n"
		[ -e "$STATE/faults.json.corrupt" ] || fail "case $n: no faults.json.corrupt"
		cmp "$T/garbage" "$STATE/faults.json.corrupt" || fail "case $n: faults.json.corrupt differs"
		expect_health

		stop_picketd || fail "case $n: picketd exited with status $? on SIGTERM"
		assert_eq "$(state_summary)" "5:cleared 11:cleared 16:cleared 19:cleared 21:cleared" \
			"state saved after case $n"
	done
	assert_eq "$n" 8
	assert_eq "$(count_events fault_state_reset)" 8
	assert_eq "$(count_events daemon_started)" 8
}

@test "corrupt state: a saved active fault whose condition is gone is cleared at start" {
	install -d -m 0700 "$STATE"
	cat >"$STATE/faults.json" <<'JSON'
{"version":1,"faults":[{"id":19,"name":"SELinux policy missing or disabled","severity":"major","state":"active","applies":true,"detail":"SELinux is enforcing (policy targeted) and module picket_bpf is not installed in /var/lib/selinux/targeted/active/modules","raised_at":1700000000,"cleared_at":0,"raise_count":4,"remedy":""}]}
JSON
	start_picketd
	assert_eq "$(count_events fault_state_reset)" 0
	assert_eq "$(active_faults)" ""
	assert_eq "$(events_py '[e["type"] for e in ev]')" '["daemon_started","fault_cleared"]'
	assert_eq "$(last_event fault_cleared 19 | jpy 'd["fault"]["detail"]')" \
		"SELinux is enforcing (policy targeted) and module picket_bpf is not installed in /var/lib/selinux/targeted/active/modules"
	assert_eq "$(fault_get 19 '[f["raise_count"], f["raised_at"]]')" "[4,1700000000]"
}
