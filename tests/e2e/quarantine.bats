#!/usr/bin/env bats
# scan.action = "quarantine": a detection moves the file into the
# quarantine with its owner, mode and checksum; `picketctl quarantine`
# lists, restores and deletes entries.

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	scan_policy --scan 'allow_unsigned_defs = true; action = "quarantine";'
}

# quarantined_copy NAME: copies EICAR to $T/files/NAME, owner 1234:5678,
# mode 0640.
quarantined_copy() {
	mkdir -p "$T/files"
	cp "$DEFS/eicar.com" "$T/files/$1"
	chown 1234:5678 "$T/files/$1"
	chmod 0640 "$T/files/$1"
}

# qitem QID EXPR: EXPR in Python on q = the entry QID of `quarantine list --json`.
qitem() {
	local out
	out=$(ctl --json quarantine list) || fail "quarantine list failed: $out" || return
	jpy "(lambda q: $2)(next(x for x in d['items'] if x['id'] == '$1'))" <<<"$out"
}

@test "quarantine: a detection is moved away with owner, mode and checksum; restore puts it back as it was" {
	scan_start
	assert_eq "$(scanner 's["action"]')" quarantine
	quarantined_copy eicar.com
	f=$T/files/eicar.com
	sha=$(sha256sum "$DEFS/eicar.com" | cut -d' ' -f1)

	run --separate-stderr ctl scan "$f"
	assert_eq "$status" 1 "exit status of picketctl scan"
	assert_contains "$output" "$f: $EICAR_SIG FOUND"
	[ ! -e "$f" ] || fail "$f is still there"

	ev=$(slast detection)
	assert_eq "$(jpy '[d["path"], d["signature"], d["action"], "error" in d]' <<<"$ev")" \
		"[\"$f\",\"$EICAR_SIG\",\"quarantined\",false]" "the detection event"
	qid=$(jpy 'd["qid"]' <<<"$ev")
	assert_match "$qid" '^[0-9a-f]{16}$' "qid"

	run -0 ctl --json quarantine list
	assert_eq "$(jpy '[x["id"] for x in d["items"]]' <<<"$output")" "[\"$qid\"]" "the entries"
	assert_eq "$(qitem "$qid" '[q["original_path"], q["uid"], q["gid"], "%o" % q["mode"], q["signature"], q["size"]]')" \
		"[\"$f\",1234,5678,\"640\",\"$EICAR_SIG\",68]" "original_path, uid, gid, mode, signature, size"
	assert_eq "$(qitem "$qid" 'q["sha256"]')" "$sha" "sha256"
	run -0 ctl quarantine list
	assert_match "${lines[1]}" "^$qid  [0-9-]{10} [0-9:]{8}  $EICAR_SIG  $f\$"
	# The quarantine holds it out of reach.
	[ "$(stat -c %a "$STATE/quarantine")" = 700 ]

	run -0 ctl quarantine restore "$qid"
	assert_eq "$output" "restored $qid"
	cmp "$f" "$DEFS/eicar.com"
	assert_eq "$(stat -c '%u:%g %a' "$f")" "1234:5678 640" "owner and mode of the restored file"
	assert_eq "$(slast quarantine_restored | jpy 'd["qid"]')" "$qid"
	run -0 ctl --json quarantine list
	assert_eq "$(jpy 'd["items"]' <<<"$output")" "[]" "entries after the restore"

	# Restored once: the entry is gone.
	run -1 ctl quarantine restore "$qid"
	assert_contains "$output" "$qid"
	cmp "$f" "$DEFS/eicar.com"
}

@test "quarantine: restore does not replace a file that took the place; delete removes an entry" {
	scan_start
	quarantined_copy a.com
	quarantined_copy b.com
	run -1 ctl --json scan "$T/files"
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"]]' <<<"${lines[-1]}")" '[2,2]'
	[ ! -e "$T/files/a.com" ]
	[ ! -e "$T/files/b.com" ]
	qa=$(sev "[e['qid'] for e in of('detection') if e['path'] == '$T/files/a.com'][0]")
	qb=$(sev "[e['qid'] for e in of('detection') if e['path'] == '$T/files/b.com'][0]")
	[ "$qa" != "$qb" ]
	run -0 ctl --json quarantine list
	assert_eq "$(jpy 'sorted(x["id"] for x in d["items"])' <<<"$output")" "$(jpy 'sorted(d)' <<<"[\"$qa\",\"$qb\"]")"

	# Something new took a.com's place: restore refuses, --force replaces.
	echo "new content" >"$T/files/a.com"
	run -1 ctl quarantine restore "$qa"
	assert_contains "$output" "File exists"
	assert_eq "$(cat "$T/files/a.com")" "new content"
	run -0 ctl quarantine restore --force "$qa"
	cmp "$T/files/a.com" "$DEFS/eicar.com"

	run -0 ctl quarantine delete "$qb"
	assert_eq "$output" "deleted $qb"
	run -0 ctl --json quarantine list
	assert_eq "$(jpy 'd["items"]' <<<"$output")" "[]"
	assert_eq "$(slast quarantine_deleted | jpy 'd["qid"]')" "$qb"
	[ ! -e "$T/files/b.com" ]
	run -1 ctl quarantine delete "$qb"
	run -1 ctl quarantine restore "$qb"
}
