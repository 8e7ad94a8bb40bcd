#!/usr/bin/env bats
# The event stream: `picketctl events` and `events --follow`.

load helpers

@test "events --follow receives a fault raised after it started, and ends with the daemon" {
	start_picketd
	bg "$PICKETCTL" --run-dir "$RUN" events --follow >"$T/follow.out" 2>"$T/follow.err"
	follower=$BG_PID
	# The backlog comes first: once it is printed, the daemon follows us.
	wait_for grep -q 'daemon_started' "$T/follow.out"

	chmod 0777 "$PREFIX/lib"
	wait_for grep -qE 'fault_raised +ID 5 ' "$T/follow.out"
	line=$(grep -E 'fault_raised +ID 5 ' "$T/follow.out")
	assert_match "$line" \
		"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{3}  fault_raised +ID 5 \(major\) Scan-as-user unavailable: install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root\$"

	# JSON follower: one {"event":{...}} a line.
	bg "$PICKETCTL" --run-dir "$RUN" --json events --follow -n 1 >"$T/follow.json" 2>&1
	json_follower=$BG_PID
	wait_for grep -q '"ok":true' "$T/follow.json"
	assert_eq "$(head -1 "$T/follow.json" | jpy '[(e["type"], e["fault"]["id"]) for e in d["events"]]')" \
		'[["fault_raised",5]]'
	chmod 0755 "$PREFIX/lib"
	wait_for grep -q '"type":"fault_cleared","fault":{"id":5,' "$T/follow.json"
	assert_eq "$(sed -n 2p "$T/follow.json" | jpy '[d["event"]["type"], d["event"]["fault"]["id"]]')" \
		'["fault_cleared",5]'

	# SIGTERM stops a follower cleanly.
	kill -TERM "$json_follower"
	wait "$json_follower" || fail "picketctl --json events --follow exited $? on SIGTERM"

	# The daemon stopping ends the stream: daemon_stopping is the last line.
	stop_picketd || fail "picketd exited with status $? on SIGTERM"
	wait_for proc_gone "$follower"
	wait "$follower" || fail "picketctl events --follow exited $? when the daemon stopped: $(cat "$T/follow.err")"
	assert_contains "$(tail -1 "$T/follow.out")" "daemon_stopping"
	assert_eq "$(grep -vcE '  fault_(raised|cleared) +ID ('"${OTHER_FAULTS// /|}"') ' "$T/follow.out")" 4 \
		"lines followed (daemon_started, fault_raised 5, fault_cleared 5, daemon_stopping)"
}

@test "events: the last N events, as text and as JSON" {
	start_picketd
	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5
	chmod 0755 "$PREFIX/lib"
	wait_for fault_cleared 5

	run -0 ctl --json events
	# What the daemon returns is what it logged ...
	assert_eq "$(jpy 'd["events"]' <<<"$output")" "$(events_py 'all_ev')"
	# ... in order, without gaps.
	assert_eq "$(jpy '[e["seq"] for e in d["events"]] == list(range(1, len(d["events"]) + 1))' <<<"$output")" true
	assert_eq "$(events_py '[e["type"] for e in ev]')" '["daemon_started","fault_raised","fault_cleared"]'
	run -0 ctl --json events -n 1
	assert_eq "$(jpy '[(e["type"], e["fault"]["id"]) for e in d["events"]]' <<<"$output")" '[["fault_cleared",5]]'
	run -0 ctl events -n 2
	assert_eq "${#lines[@]}" 2
	assert_match "${lines[0]}" "  fault_raised +ID 5 \\(major\\) Scan-as-user unavailable: install directory"
	assert_match "${lines[1]}" "  fault_cleared +ID 5 \(major\) Scan-as-user unavailable: install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root\$"
	run -2 ctl events -n 0
	assert_contains "$output" "-n wants a count from 1 to 10000, not '0'"

	assert_eq "$(last_event daemon_started | jpy '[d["version"], d["pid"], d["policy"]]')" \
		"[\"$(ctl --json status | jpy 'd["version"]')\",$PICKETD_PID,\"$POLICY\"]"
}

@test "events: the log rotates past event_log.max_bytes and keeps event_log.keep files" {
	write_policy 'event_log = { max_bytes = 4096; keep = 2; };'
	start_picketd
	n=0
	# Until the oldest events have fallen off: .2 no longer starts at seq 1.
	while [ ! -e "$EVENTS.2" ] || [ "$(head -1 "$EVENTS.2" | jpy 'd["seq"]')" = 1 ]; do
		n=$((n + 1))
		[ "$n" -le 300 ] || fail "no rotation after $n reloads"
		ctl policy reload >/dev/null
	done
	[ ! -e "$EVENTS.3" ] || fail "more than keep = 2 rotated files"
	for f in "$EVENTS" "$EVENTS.1" "$EVENTS.2"; do
		size=$(stat -c %s "$f")
		[ "$size" -le 4096 ] || fail "$f has $size bytes, more than max_bytes"
	done
	# The three files, oldest first, are one run of events without a gap;
	# the oldest have fallen off.
	seqs=$(cat "$EVENTS.2" "$EVENTS.1" "$EVENTS" >"$T/all.jsonl" && events_py '[e["seq"] for e in all_ev]' "$T/all.jsonl")
	last=$(ctl --json events -n 1 | jpy 'd["events"][-1]["seq"]')
	assert_eq "$(jpy 'd == list(range(d[0], d[0] + len(d))) and d[0] > 1 and d[-1] == '"$last" <<<"$seqs")" true \
		"seq run: $seqs (n=$n)"
}
