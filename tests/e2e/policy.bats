#!/usr/bin/env bats
# The policy: `picketctl policy check` without a daemon, reload through the
# socket and SIGHUP (all-or-nothing: a broken file leaves the policy in
# force), and picketd refusing to start on a broken file.

load helpers

# broken FILE: a policy whose line 3 has a string for a number.
broken() {
	printf '# picket e2e: broken on line 3\ninstall_prefix = "%s";\nrecheck_interval = "x";\n' \
		"$PREFIX" >"$1"
}

@test "policy check: the shipped etc/policy.conf is valid and every setting is its default" {
	run -0 ctl policy check "$REPO/etc/policy.conf"
	assert_eq "$output" "$REPO/etc/policy.conf: ok"
	run -0 ctl --json policy check "$REPO/etc/policy.conf"
	assert_eq "$output" "{\"ok\":true,\"path\":\"$REPO/etc/policy.conf\"}"

	# The shipped file shows the defaults: an empty policy gives the same.
	: >"$T/empty.conf"
	start_picketd -c "$REPO/etc/policy.conf"
	run -0 ctl --json policy show
	shipped=$(jpy '{k: v for k, v in d["policy"].items() if k != "path"}' <<<"$output")
	stop_picketd || fail "picketd exited with status $? on SIGTERM"
	start_picketd -c "$T/empty.conf"
	run -0 ctl --json policy show
	defaults=$(jpy '{k: v for k, v in d["policy"].items() if k != "path"}' <<<"$output")
	# The settings whose default differs from what the shipped file shows.
	echo "$defaults" >"$T/defaults.json"
	assert_eq "$(jpy "sorted(k for k in d if d[k] != json.load(open('$T/defaults.json')).get(k))" <<<"$shipped")" '[]' \
		"settings differing (shipped: $shipped; defaults: $defaults)"
}

@test "policy check: a broken file gives file:line: reason on stderr and exit 1" {
	broken "$T/broken.conf"
	run -1 --separate-stderr ctl policy check "$T/broken.conf"
	assert_eq "$output" ""
	assert_eq "$stderr" "$T/broken.conf:3: recheck_interval: must be a whole number"
	run -1 ctl --json policy check "$T/broken.conf"
	assert_eq "$output" "{\"ok\":false,\"error\":\"$T/broken.conf:3: recheck_interval: must be a whole number\"}"

	printf 'monitor_file_copies_moves = true;\n\nrecheck_interval = ;\n' >"$T/syntax.conf"
	run -1 ctl policy check "$T/syntax.conf"
	assert_eq "$output" "$T/syntax.conf:3: syntax error"
	printf 'recheck_interval = 1;\nrecheck_intervall = 2;\n' >"$T/unknown.conf"
	run -1 ctl policy check "$T/unknown.conf"
	assert_eq "$output" "$T/unknown.conf:2: unknown setting 'recheck_intervall'"
	printf 'faults = {\n  queue_high_water = 100;\n  queue_low_water = 100;\n};\n' >"$T/cross.conf"
	run -1 ctl policy check "$T/cross.conf"
	assert_eq "$output" "$T/cross.conf:3: faults.queue_low_water (100) must be below queue_high_water (100)"
	printf 'recheck_interval = 0;\n' >"$T/range.conf"
	run -1 ctl policy check "$T/range.conf"
	assert_eq "$output" "$T/range.conf:1: recheck_interval: 0 is out of range [1, 86400]"
	printf 'install_prefix = "opt/picket";\n' >"$T/path.conf"
	run -1 ctl policy check "$T/path.conf"
	assert_eq "$output" "$T/path.conf:1: install_prefix: 'opt/picket' must be an absolute path"
	run -1 ctl policy check "$T/missing.conf"
	assert_eq "$output" "$T/missing.conf: No such file or directory"
	run -2 ctl policy check
	assert_contains "$output" "policy check: needs exactly one FILE"
}

@test "policy reload: a broken file is refused with file:line, a policy_rejected event, and the old policy stays" {
	start_picketd
	run -0 ctl --json policy show
	assert_eq "$(jpy '[d["policy"]["recheck_interval"], d["policy"]["install_prefix"]]' <<<"$output")" \
		"[1,\"$PREFIX\"]"

	broken "$POLICY"
	run -1 --separate-stderr ctl policy reload
	assert_eq "$stderr" "picketctl: $POLICY:3: recheck_interval: must be a whole number"
	run -1 ctl --json policy reload
	assert_eq "$output" "{\"ok\":false,\"error\":\"$POLICY:3: recheck_interval: must be a whole number\"}"
	assert_eq "$(last_event policy_rejected | jpy '[d["path"], d["error"]]')" \
		"[\"$POLICY\",\"$POLICY:3: recheck_interval: must be a whole number\"]"
	assert_eq "$(count_events policy_rejected)" 2
	assert_eq "$(count_events policy_loaded)" 0

	run -0 ctl --json policy show
	assert_eq "$(jpy 'd["policy"]["recheck_interval"]' <<<"$output")" 1
	# Still re-checking every second under the old policy.
	chmod 0777 "$PREFIX/share"
	wait_for fault_active 5

	# SIGHUP with a valid, changed policy.
	write_policy 'recheck_interval = 2;' 'min_kernel = "6.0";'
	kill -HUP "$PICKETD_PID"
	wait_for has_event policy_loaded
	assert_eq "$(last_event policy_loaded | jpy 'd["path"]')" "$POLICY"
	run -0 ctl --json policy show
	assert_eq "$(jpy '[d["policy"]["recheck_interval"], d["policy"]["min_kernel"]]' <<<"$output")" \
		'[2,"6.0"]'
	run -0 ctl policy show
	assert_contains "$output" "recheck_interval = 2"
	assert_contains "$output" "min_kernel = 6.0"
	assert_contains "$output" "event_log.max_bytes = 10485760"

	# SIGHUP with a broken file: rejected, the daemon keeps running.
	broken "$POLICY"
	kill -HUP "$PICKETD_PID"
	wait_for test "$(count_events policy_rejected)" = 3
	run -0 ctl --json policy show
	assert_eq "$(jpy 'd["policy"]["recheck_interval"]' <<<"$output")" 2
	assert_contains "$(cat "$DLOG")" \
		"Policy reload refused, the previous policy stays in force: $POLICY:3: recheck_interval: must be a whole number"
}

@test "policy: picketd refuses to start with a broken policy, with file:line" {
	broken "$POLICY"
	run -1 timeout 20 "$PICKETD" -f -c "$POLICY" --state-dir "$STATE" --run-dir "$RUN" \
		--log-dir "$LOG" --host-root "$ROOT"
	assert_contains "$output" \
		"Refusing to start with an invalid policy: $POLICY:3: recheck_interval: must be a whole number"
	[ ! -e "$RUN/picketd.sock" ] || fail "a socket was left behind"
	run -1 timeout 20 "$PICKETD" -f -c "$T/missing.conf" --state-dir "$STATE" --run-dir "$RUN" \
		--log-dir "$LOG" --host-root "$ROOT"
	assert_contains "$output" "Refusing to start with an invalid policy: $T/missing.conf: No such file or directory"
	run -2 timeout 20 "$PICKETD" --no-such-option
	run -1 timeout 20 "$PICKETD" -f -c "$POLICY" --host-root relative/root
}
