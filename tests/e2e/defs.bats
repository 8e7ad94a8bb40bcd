#!/usr/bin/env bats
# Virus definitions: `picketctl defs install` and `defs status`, the
# integrity and stability checks that refuse broken files (moved to
# defs/rejected/ with a reason), last-known-good, and the policy's
# allow_unsigned_defs.

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	scan_policy
}

@test "defs install v1: status shows the set, 2 signatures, picket.cud version 1" {
	start_scan_picketd
	run -0 ctl defs install "$DEFS/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: accepted"
	assert_match "${lines[1]}" '^definitions set [0-9]{8}T[0-9]{6}Z-[0-9]+ is active$'
	set_id=${lines[1]#definitions set }
	set_id=${set_id% is active}
	assert_eq "$(active_set)" "$set_id" "the active link"
	[ -f "$STATE/defs/sets/$set_id/picket.cud" ]
	cmp "$STATE/defs/sets/$set_id/picket.cud" "$DEFS/picket.cud"
	wait_ready

	run -0 ctl --json defs status
	assert_eq "$(jpy '[d["ok"], d["set"], d["signatures"], d["last_known_good"]]' <<<"$output")" \
		"[true,\"$set_id\",2,\"\"]" "ok, set, signatures, last_known_good"
	assert_eq "$(jpy '[(f["name"], f["version"], f["signatures"], f["source"]) for f in d["files"]]' <<<"$output")" \
		"[[\"picket.cud\",1,2,\"$DEFS/picket.cud\"]]" "files"
	# The header's count is what the engine really loaded.
	assert_eq "$(sigtool --info="$DEFS/picket.cud" | sed -n 's/^Signatures: //p')" 2 "sigtool's count"
	assert_eq "$(jpy 'd["loaded_signatures"]' <<<"$output")" 2 "loaded_signatures"
	assert_eq "$(scanner 's["signatures"]')" 2 "scanner.signatures"
	assert_eq "$(slast scan_service_ready | jpy 'd["signatures"]')" 2
	assert_eq "$(sev "[e['file'] for e in of('defs_accepted')]")" '["picket.cud"]'

	run -0 ctl defs status
	assert_match "${lines[0]}" "^Definitions: +set $set_id, 2 signatures \\(2 loaded by the scan service\\)$"
	assert_match "$output" 'Last known good: none'
	assert_match "$output" 'picket\.cud +version 1 +2 signatures'
}

@test "defs install v2: version 2, 3 signatures, the v1 set is last-known-good" {
	scan_start
	v1=$(defs_get 'd["set"]')
	pid=$(scanner_pid)

	run -0 ctl defs install "$DEFS/v2/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: accepted"
	wait_ready "$pid"
	run -0 ctl --json defs status
	v2=$(jpy 'd["set"]' <<<"$output")
	[ "$v2" != "$v1" ]
	assert_eq "$(jpy '[d["signatures"], d["last_known_good"], d["loaded_signatures"]]' <<<"$output")" \
		"[3,\"$v1\",3]" "signatures, last_known_good, loaded_signatures"
	assert_eq "$(jpy '[(f["name"], f["version"], f["signatures"]) for f in d["files"]]' <<<"$output")" \
		'[["picket.cud",2,3]]' "files"
	assert_eq "$(readlink "$STATE/defs/last-known-good")" "sets/$v1"
	assert_eq "$(active_set)" "$v2"
	assert_eq "$(ls "$STATE/defs/sets" | LC_ALL=C sort | paste -sd' ')" "$(printf '%s\n' "$v1" "$v2" | LC_ALL=C sort | paste -sd' ')" "sets kept"
	# The new service scans with the new set.
	cp "$DEFS/eicar.com" "$T/eicar.com"
	run ctl scan "$T/eicar.com"
	assert_eq "$status" 1
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"

	# An older version of the same database is refused.
	run -1 ctl defs install "$DEFS/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: rejected: version 1 is older than the active version 2 of this database"
	assert_eq "$(defs_get 'd["set"]')" "$v2"
}

# expect_rejected NAME REASON_SUBSTRING
expect_rejected() {
	local name=$1 want=$2 before pid reason
	before=$(defs_get 'd["set"]')
	pid=$(scanner_pid)
	run ctl defs install "$DEFS/bad/$name"
	assert_eq "$status" 1 "exit status of defs install $name" || { echo "$output"; return 1; }
	assert_match "${lines[0]}" "^$name: rejected: " "the line for $name" || return
	reason=${lines[0]#"$name: rejected: "}
	assert_contains "$reason" "$want" "the reason for $name" || return
	assert_contains "$output" "no definitions were installed: every file was rejected" || return
	# Moved aside with the reason.
	[ -f "$STATE/defs/rejected/$name" ] || fail "no rejected/$name" || return
	[ -f "$STATE/defs/rejected/$name.reason" ] || fail "no rejected/$name.reason" || return
	assert_contains "$(cat "$STATE/defs/rejected/$name.reason")" "reason: $reason" "$name.reason" || return
	assert_contains "$(cat "$STATE/defs/rejected/$name.reason")" "source: $DEFS/bad/$name" "$name.reason" || return
	assert_eq "$(slast defs_rejected | jpy 'd["file"]')" "$name" "defs_rejected file" || return
	assert_eq "$(slast defs_rejected | jpy 'd["reason"]')" "$reason" "defs_rejected reason" || return
	# Nothing changed: same set, same service, and it still detects.
	assert_eq "$(defs_get 'd["set"]')" "$before" "active set after $name" || return
	assert_eq "$(scanner_pid)" "$pid" "scan service pid after $name" || return
	run ctl scan "$T/eicar.com"
	assert_eq "$status" 1 "scan after $name" || return
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"
}

@test "defs install: every broken file is refused with its own reason and kept in rejected/" {
	scan_start
	cp "$DEFS/eicar.com" "$T/eicar.com"
	expect_rejected truncated-header.cud "file shorter than the 512-byte header"
	expect_rejected empty.cud "file shorter than the 512-byte header"
	expect_rejected wrong-md5.cud "body MD5 $(tail -c +513 "$DEFS/bad/wrong-md5.cud" | md5sum | cut -d' ' -f1) does not match the header's 00000000000000000000000000000000"
	expect_rejected huge-sigs.cud "header: field 4 (sigs) is out of range"
	# These two pass the integrity checks and fail the test load.
	expect_rejected garbage-body.cud "Malformed database (cli_tgzload: Unknown type flag"
	expect_rejected bad-sigline.cud "Malformed database (cli_ac_addsig: Missing closing parenthesis)"
	assert_eq "$(scount defs_rejected)" 6
	# The refused sets were never activated: the store holds the first set only.
	assert_eq "$(ls "$STATE/defs/sets")" "$(defs_get 'd["set"]')"
	assert_eq "$(scount scan_service_ready)" 1 "scan service starts"
}

@test "defs install: unsigned .cud refused once the policy no longer allows them" {
	scan_start
	before=$(defs_get 'd["set"]')
	scan_policy --scan "allow_unsigned_defs = false;"
	run -0 ctl policy reload
	run -1 ctl defs install "$DEFS/v2/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: rejected: unsigned .cud definitions are not allowed by the policy (allow_unsigned_defs)"
	assert_eq "$(defs_get 'd["set"]')" "$before"
	[ -f "$STATE/defs/rejected/picket.cud.reason" ]
	assert_eq "$(slast defs_rejected | jpy 'd["reason"]')" \
		"unsigned .cud definitions are not allowed by the policy (allow_unsigned_defs)"
	# Allowed again: the same file goes in.
	scan_policy
	run -0 ctl policy reload
	pid=$(scanner_pid)
	run -0 ctl defs install "$DEFS/v2/picket.cud"
	wait_ready "$pid"
	assert_eq "$(defs_get '[f["version"] for f in d["files"]]')" "[2]"
}

@test "fault 20: definitions built 30 days ago are out of date; fresh ones clear it" {
	start_scan_picketd
	run -0 ctl defs install "$DEFS/old/picket.cud"
	wait_for fault_active 20
	built=$(head -c 512 "$DEFS/old/picket.cud" | cut -d: -f2)
	detail=$(fault_detail 20)
	assert_match "$detail" '^definitions set [0-9]{8}T[0-9]{6}Z-[0-9]+ was built '
	assert_contains "$detail" "was built $built, 720 h ago; the policy's defs_max_age is 168 h"
	assert_eq "$(fault_get 20 'f["severity"]')" major
	# Scanning goes on with old definitions: the fault says they are old.
	wait_ready
	run ctl scan "$DEFS/eicar.com"
	assert_eq "$status" 1
	run -0 ctl defs install "$DEFS/v2/picket.cud"
	wait_for fault_cleared 20
	assert_eq "$(s_fault_history 20)" "fault_raised fault_cleared"
}
