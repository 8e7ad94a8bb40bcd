#!/usr/bin/env bats
# Fault 5, Scan-as-user unavailable: the install tree (the real --prefix
# directory) and the scan user and group (through the host view).

load helpers

F5_METRIC='picket_fault_active{id="5",name="Scan-as-user unavailable",severity="major"}'

@test "fault 5: clean host view has no fault; chmod 0777 on an install dir raises it, 0755 clears it" {
	start_picketd

	assert_eq "$(active_faults)" ""
	if [ -z "$(other_active)" ]; then
		run -0 ctl faults
		assert_eq "$output" "no active faults"
		run -0 ctl --json faults
		assert_eq "$output" '{"ok":true,"faults":[]}'
	fi
	expect_health
	metric_is "$F5_METRIC 0"

	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" \
		"install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root"
	assert_eq "$(active_faults)" "5"
	expect_health 5
	run -0 ctl faults
	assert_eq "${lines[0]}" "ID  SEVERITY  STATE    SINCE                NAME"
	row=$(grep '^5 ' <<<"$output")
	assert_match "$row" '^5   major     active   [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}  Scan-as-user unavailable$'
	run -0 ctl --json status
	# Fault 5 is major; the scan service's 7 (no definitions here) is critical.
	assert_eq "$(jpy '"impaired" if d["faults"]["critical"] else "reduced"' <<<"$output")" \
		"$(jpy 'd["protection"]' <<<"$output")"
	assert_eq "$(jpy 'd["faults"]["major"] >= 1' <<<"$output")" true
	assert_eq "$(jpy '[f["id"] for f in d["faults"]["active"] if f["id"] == 5]' <<<"$output")" "[5]"
	assert_eq "$(jpy '[d["faults"][s] == sum(f["severity"] == s for f in d["faults"]["active"]) for s in ("critical", "major", "minor")]' <<<"$output")" \
		"[true,true,true]" "status counts by severity"
	metric_is "$F5_METRIC 1"
	expect_severity_count major 1
	metric_is 'picket_fault_raised_total{id="5"} 1'
	assert_eq "$(last_event fault_raised 5 | jpy 'd["fault"]')" \
		"{\"id\":5,\"name\":\"Scan-as-user unavailable\",\"severity\":\"major\",\"detail\":\"install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root\"}"

	chmod 0755 "$PREFIX/lib"
	wait_for fault_cleared 5
	expect_health
	assert_eq "$(fault_history 5)" "fault_raised fault_cleared"
	metric_is "$F5_METRIC 0"
	expect_severity_count major 0
	metric_is 'picket_fault_raised_total{id="5"} 1'
	assert_eq "$(fault_get 5 '[f["raise_count"], f["raised_at"] > 0, f["cleared_at"] >= f["raised_at"]]')" \
		"[1,true,true]"
	# The daemon log (stderr with -f) has one line for each.
	grep -qE " warning: Fault 5 \(major\) raised: Scan-as-user unavailable: install directory $PREFIX/lib is mode 0777 owner 0:0, must be 0755 root:root\$" "$DLOG" ||
		fail "no 'raised' line in the daemon log"
	grep -qE " notice: Fault 5 \(major\) cleared: Scan-as-user unavailable\$" "$DLOG" ||
		fail "no 'cleared' line in the daemon log"
}

@test "metrics: --metrics-file puts the textfile where asked" {
	chmod 0777 "$PREFIX/lib"
	mkdir "$T/textfile"
	start_picketd --metrics-file "$T/textfile/picket.prom"
	METRICS=$T/textfile/picket.prom
	metric_is "$F5_METRIC 1"
	[ ! -e "$STATE/picket.prom" ] || fail "metrics also written to the state dir"
	assert_eq "$(stat -c %a "$METRICS")" 644
	metric_is 'picket_events_lost_total 0'
	assert_eq "$(grep -c '^picket_fault_active{' "$METRICS")" "$(ctl --json faults --all | jpy 'len(d["faults"])')" \
		"fault gauges (one per catalogued fault)"
	started=$(ctl --json status | jpy 'd["started_at"]')
	metric_is "picket_start_time_seconds $started"
}

@test "fault 5: owner change, nested directories and several bad ones at once" {
	start_picketd

	chown 65534:0 "$PREFIX/share"
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" \
		"install directory $PREFIX/share is mode 0755 owner 65534:0, must be 0755 root:root"
	chown 0:0 "$PREFIX/share"
	wait_for fault_cleared 5

	# A directory created later is walked (and watched) too.
	install -d -m 0755 "$PREFIX/lib/plugins"
	mkdir -m 0700 "$PREFIX/lib/plugins/new"
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" \
		"install directory $PREFIX/lib/plugins/new is mode 0700 owner 0:0, must be 0755 root:root"
	chmod 0755 "$PREFIX/lib/plugins/new"
	wait_for fault_cleared 5

	# The prefix itself, and more than three bad directories.
	chmod 0775 "$PREFIX" "$PREFIX/bin" "$PREFIX/lib/btf" "$PREFIX/share"
	wait_for fault_detail_matches 5 "; and 1 more directories\$"
	assert_match "$(fault_detail 5)" \
		"^install directory $PREFIX is mode 0775 owner 0:0, must be 0755 root:root; install directory $PREFIX/[a-z/]+ is mode 0775 owner 0:0, must be 0755 root:root; install directory $PREFIX/[a-z/]+ is mode 0775 owner 0:0, must be 0755 root:root; and 1 more directories\$"
	chmod 0755 "$PREFIX" "$PREFIX/bin" "$PREFIX/lib/btf" "$PREFIX/share"
	wait_for fault_cleared 5

	assert_eq "$(fault_history 5)" \
		"fault_raised fault_cleared fault_raised fault_cleared fault_raised fault_cleared"
	assert_eq "$(fault_get 5 'f["raise_count"]')" 3
}

@test "fault 5: a missing install prefix is named" {
	start_picketd --prefix "$T/nowhere"
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" "install prefix $T/nowhere: No such file or directory"
}

@test "fault 5: scan user missing from the host view, then added back by rename" {
	put "$ROOT/etc/passwd" "$PASSWD_NO_SCAN_USER"
	start_picketd

	assert_eq "$(active_faults)" "5"
	assert_eq "$(fault_detail 5)" "scan user 'picket-scan' does not exist"
	assert_eq "$(fault_history 5)" "fault_raised"

	# Like useradd: a new file renamed over /etc/passwd (inotify sees it).
	put "$ROOT/etc/passwd" "$PASSWD_OK"
	wait_for fault_cleared 5
	assert_eq "$(active_faults)" ""
	assert_eq "$(fault_history 5)" "fault_raised fault_cleared"
	metric_is "$F5_METRIC 0"
}

@test "fault 5: scan group missing, and wrong primary group" {
	put "$ROOT/etc/group" 'root:x:0:
users:x:100:'
	start_picketd
	assert_eq "$(fault_detail 5)" "scan group 'picket-scan' does not exist"

	put "$ROOT/etc/group" "$GROUP_OK"
	wait_for fault_cleared 5

	put "$ROOT/etc/passwd" 'root:x:0:0:root:/root:/bin/bash
picket-scan:x:990:100:picket scan service:/nonexistent:/usr/sbin/nologin'
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" "scan user 'picket-scan' has primary group 100, not 'picket-scan' (990)"

	put "$ROOT/etc/passwd" "$PASSWD_OK"
	wait_for fault_cleared 5

	put "$ROOT/etc/passwd" 'root:x:0:0:root:/root:/bin/bash
picket-scan:x:0:990:picket scan service:/nonexistent:/usr/sbin/nologin'
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" "scan user 'picket-scan' is uid 0"
	put "$ROOT/etc/passwd" "$PASSWD_OK"
	wait_for fault_cleared 5
}

@test "fault 5: a changed detail updates the active fault without a second event" {
	chmod 0777 "$PREFIX/bin"
	start_picketd
	assert_eq "$(fault_detail 5)" \
		"install directory $PREFIX/bin is mode 0777 owner 0:0, must be 0755 root:root"

	# Never clean in between: the fault stays active while its detail changes.
	chmod 0700 "$PREFIX/share"
	chmod 0755 "$PREFIX/bin"
	wait_for fault_detail_is 5 \
		"install directory $PREFIX/share is mode 0700 owner 0:0, must be 0755 root:root"
	assert_eq "$(fault_state 5)" active
	assert_eq "$(fault_history 5)" "fault_raised"
	assert_eq "$(fault_get 5 'f["raise_count"]')" 1
}

@test "fault 5: faults show renders the fault for people" {
	chmod 0777 "$PREFIX/lib"
	start_picketd
	run -0 ctl faults show 5
	assert_eq "${lines[0]}" "Fault 5: Scan-as-user unavailable"
	assert_eq "${lines[1]}" "Severity:     major"
	assert_eq "${lines[2]}" "State:        active"
	assert_eq "${lines[3]}" "Applies:      yes"
	assert_contains "$output" "Detail:       install directory $PREFIX/lib is mode 0777"
	assert_contains "$output" "Remediation:  Reinstall picket to recreate the scan user and group"

	run -1 ctl faults show 99
	assert_eq "$output" "picketctl: no fault with id 99"
	run -2 ctl faults show x
	assert_contains "$output" "faults show: 'x' is not a fault ID"
}

@test "inotify: with a one-hour recheck interval, install tree and /etc changes are still seen at once" {
	write_policy 'recheck_interval = 3600;'
	start_picketd
	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5
	chmod 0755 "$PREFIX/lib"
	wait_for fault_cleared 5
	put "$ROOT/etc/passwd" "$PASSWD_NO_SCAN_USER"
	wait_for fault_active 5
	assert_eq "$(fault_detail 5)" "scan user 'picket-scan' does not exist"
	put "$ROOT/etc/passwd" "$PASSWD_OK"
	wait_for fault_cleared 5
}

@test "idle: picketd does not re-check when nothing changed" {
	write_policy 'recheck_interval = 3600;'
	start_picketd
	# One re-check caused by a change, one by a reload: each replaces the
	# inotify watches, which must not itself count as a change.
	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5
	run -0 ctl policy reload
	# Every re-check rewrites the metrics file; with nothing changing and the
	# timer an hour away, it must stay as it is.  (A negative: it takes a
	# short wait.)
	before=$(stat -c '%i %.9Y' "$METRICS")
	sleep 2
	# Each re-check re-adds its inotify watches: the last descriptor number
	# tells how many were added since the start.
	fd=$(find "/proc/$PICKETD_PID/fd" -lname 'anon_inode:inotify' -printf '%f\n' | head -1)
	wds=$(sed -n 's/^inotify wd:\([0-9a-f]*\) .*/\1/p' "/proc/$PICKETD_PID/fdinfo/$fd" |
		while read -r h; do echo $((16#$h)); done | sort -n | tail -1)
	assert_eq "$(stat -c '%i %.9Y' "$METRICS")" "$before" \
		"metrics file (inode, mtime) after 2 idle seconds (inotify watches added so far: ${wds:-?})"
}
