#!/usr/bin/env bats
# On-demand scanning through the scan service (picket-scand): detections by
# name, exit statuses, the JSON summary, the verdict cache, detection
# events, and the sandbox the service runs in.

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

@test "scan: clam.exe, clam.zip, clam.7z and EICAR are each detected by name, exit 1" {
	scan_start
	cp "$DEFS/eicar.com" "$T/eicar.com"

	run --separate-stderr ctl scan "$TESTFILES/clam.exe" "$TESTFILES/clam.zip" "$TESTFILES/clam.7z" "$T/eicar.com"
	assert_eq "$status" 1 "exit status of picketctl scan" || { echo "$output"; echo "$stderr"; false; }
	assert_eq "$(grep ' FOUND$' <<<"$output" | sort)" "$(printf '%s\n' \
		"$T/eicar.com: $EICAR_SIG FOUND" \
		"$TESTFILES/clam.7z: $CLAM_SIG FOUND" \
		"$TESTFILES/clam.exe: $CLAM_SIG FOUND" \
		"$TESTFILES/clam.zip: $CLAM_SIG FOUND" | sort)" "detections printed"
	assert_contains "$output" "Scanned files: 4"
	assert_contains "$output" "Infected files: 4"
	assert_contains "$output" "Errors: 0"
	assert_eq "$stderr" "" "stderr"

	# One detection event each, audit only: nothing is moved.
	assert_eq "$(sev "sorted('%s %s %s %s' % (e['path'], e['signature'], e['action'], 'qid' in e) for e in of('detection'))" |
		jpy '"\n".join(d)')" "$(printf '%s\n' \
		"$T/eicar.com $EICAR_SIG audit False" \
		"$TESTFILES/clam.7z $CLAM_SIG audit False" \
		"$TESTFILES/clam.exe $CLAM_SIG audit False" \
		"$TESTFILES/clam.zip $CLAM_SIG audit False" | LC_ALL=C sort)" "detection events"
	[ -f "$T/eicar.com" ]
	assert_eq "$(scanner 's["detections"]')" 4 "scanner.detections"
}

@test "scan: a clean file exits 0 and reports nothing" {
	scan_start
	cp /etc/os-release "$T/clean.txt"

	run --separate-stderr ctl scan "$T/clean.txt"
	assert_eq "$status" 0 "exit status of picketctl scan" || { echo "$output"; false; }
	assert_not_contains "$output" FOUND
	assert_contains "$output" "Scanned files: 1"
	assert_contains "$output" "Infected files: 0"
	assert_eq "$stderr" ""
	assert_eq "$(scount detection)" 0 "detection events"
}

@test "scan --json: exact summary counts, detections and no failures" {
	scan_start
	mkdir "$T/mixed"
	cp "$DEFS/eicar.com" "$T/mixed/eicar.com"
	cp /etc/os-release "$T/mixed/clean1"
	printf 'nothing to see\n' >"$T/mixed/clean2"
	cp "$TESTFILES/clam.exe" "$T/mixed/clam.exe"

	run --separate-stderr ctl --json scan "$T/mixed"
	assert_eq "$status" 1 "exit status" || { echo "$output"; false; }
	# The reply is the last line (progress lines only come on a terminal).
	last=${lines[-1]}
	assert_eq "$(jpy '[d["ok"], d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"], d["summary"]["skipped"], d["failures"]]' <<<"$last")" \
		'[true,4,2,0,0,[]]' "ok, files, infected, errors, skipped, failures"
	assert_eq "$(jpy 'd["summary"]["bytes"]' <<<"$last")" "$(cat "$T"/mixed/* | wc -c)" "bytes"
	assert_eq "$(jpy '"\n".join(sorted("%s %s" % (x["path"], x["signature"]) for x in d["detections"]))' <<<"$last")" \
		"$(printf '%s\n' "$T/mixed/clam.exe $CLAM_SIG" "$T/mixed/eicar.com $EICAR_SIG" | LC_ALL=C sort)"

	run --separate-stderr ctl --json scan "$T/mixed/clean1" "$T/mixed/clean2"
	assert_eq "$status" 0 "exit status of a clean scan"
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["detections"]]' <<<"${lines[-1]}")" '[2,0,[]]'
}

@test "scan: all of clamav-testfiles is 44 of 44 infected; a second scan is answered from the cache" {
	# Only the filesystems whose key vouches for content are cached
	# (scanq.h); in the kernel matrix the root is an overlay over 9p.
	local cached=44
	case $(stat -f -c %T "$TESTFILES") in
	ext2/ext3 | xfs | btrfs | squashfs | erofs) ;;
	*) cached=0 ;;
	esac
	scan_start
	n=$(find "$TESTFILES" -type f | wc -l)
	assert_eq "$n" 44 "files in $TESTFILES"

	scans0=$(scanner 's["scans"]')
	hits0=$(scanner 's["cache_hits"]')
	run --separate-stderr ctl --json scan "$TESTFILES"
	assert_eq "$status" 1 || { echo "$output"; false; }
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"], len(d["detections"])]' <<<"${lines[-1]}")" \
		'[44,44,0,44]' "files, infected, errors, detections listed"
	assert_eq "$(jpy 'sorted(set(x["signature"] for x in d["detections"]))' <<<"${lines[-1]}")" "[\"$CLAM_SIG\"]"
	assert_eq "$(jpy '"\n".join(sorted(x["path"] for x in d["detections"]))' <<<"${lines[-1]}")" \
		"$(find "$TESTFILES" -type f | LC_ALL=C sort)" "every file detected"
	scans1=$(scanner 's["scans"]')
	hits1=$(scanner 's["cache_hits"]')
	assert_eq "$((scans1 - scans0))" 44 "scans by the first pass"
	assert_eq "$((hits1 - hits0))" 0 "cache hits of the first pass"

	run --separate-stderr ctl --json scan "$TESTFILES"
	assert_eq "$status" 1
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"]]' <<<"${lines[-1]}")" '[44,44,0]'
	assert_eq "$(($(scanner 's["cache_hits"]') - hits1))" "$cached" "cache hits of the second pass"
	assert_eq "$(($(scanner 's["scans"]') - scans1))" "$((44 - cached))" "scans by the second pass"
	# A cached verdict is still a detection: one event per detection.
	assert_eq "$(scount detection)" 88 "detection events"
	assert_eq "$(sev "sorted(set(e['action'] for e in of('detection')))")" '["audit"]'
}

@test "scan service: runs as picket-scan, no capabilities, no_new_privs, seccomp filter" {
	scan_start
	pid=$(scanner_pid)
	[ "$pid" -gt 0 ]
	uid=$(scan_uid)
	gid=$(scan_gid)
	assert_eq "$(proc_status "$pid" Name)" picket-scand
	assert_eq "$(proc_status "$pid" Uid)" "$uid $uid $uid $uid" "Uid"
	assert_eq "$(proc_status "$pid" Gid)" "$gid $gid $gid $gid" "Gid"
	assert_eq "$(proc_status "$pid" Groups)" "" "supplementary groups"
	assert_eq "$(proc_status "$pid" CapEff)" 0000000000000000 CapEff
	assert_eq "$(proc_status "$pid" CapPrm)" 0000000000000000 CapPrm
	assert_eq "$(proc_status "$pid" NoNewPrivs)" 1 NoNewPrivs
	assert_eq "$(proc_status "$pid" Seccomp)" 2 "Seccomp (2: filter)"
	assert_eq "$(scanner 's["detail"]')" "running as the scan user"
	assert_eq "$(slast scan_service_ready | jpy '[d["pid"], d["uid"], d["signatures"]]')" "[$pid,$uid,2]"
	# And it still scans inside its sandbox.
	run ctl scan "$TESTFILES/clam.exe"
	assert_eq "$status" 1
}
