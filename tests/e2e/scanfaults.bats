#!/usr/bin/env bats
# The faults of the scan service: 7 (failed to start: definitions that do
# not load, too little memory, no definitions), 6 (restarting frequently,
# the file in flight at a crash, suspects skipped) and 5 as the scan
# service sees it (no scan user: it runs as root).

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
	# The service is killed with SIGSEGV here: a sanitized build must die
	# of it, not report it as a bug of its own.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
	SAVED_PASSWD=
	SAVED_GROUP=
}

teardown() {
	restore_scan_user
	e2e_teardown
}

# The scan user and group as they were before the fault 5 test deleted
# them, recreated with the same ids whatever happened in the test.
restore_scan_user() {
	local name gid uid home shell gecos
	if [ -n "$SAVED_GROUP" ] && ! getent group "$SCAN_USER" >/dev/null; then
		IFS=: read -r name _ gid _ <<<"$SAVED_GROUP"
		groupadd --system --gid "$gid" "$name"
	fi
	if [ -n "$SAVED_PASSWD" ] && ! getent passwd "$SCAN_USER" >/dev/null; then
		IFS=: read -r name _ uid gid gecos home shell <<<"$SAVED_PASSWD"
		useradd --system --uid "$uid" --gid "$gid" --no-create-home --home-dir "$home" \
			--shell "$shell" ${gecos:+--comment "$gecos"} "$name"
	fi
}

# ------------------------------------------------------------------ fault 7

@test "fault 7: no definitions installed; installing them clears it" {
	start_scan_picketd
	wait_for fault_active 7
	assert_contains "$(fault_detail 7)" "no definitions installed"
	assert_contains "$(fault_detail 7)" "picketctl defs install"
	assert_eq "$(fault_get 7 'f["severity"]')" critical
	assert_eq "$(scanner 's["state"]')" restarting
	# Scanning is off, and says why.
	run ctl scan /etc/os-release
	assert_eq "$status" 1
	assert_contains "$output" "scanning is off: no definitions installed"

	install_defs "$DEFS/picket.cud"
	wait_for fault_cleared 7
	assert_eq "$(s_fault_history 7)" "fault_raised fault_cleared"
	run ctl scan "$TESTFILES/clam.exe"
	assert_eq "$status" 1
}

@test "fault 7: a set that fails to load is rolled back to last-known-good and moved aside" {
	scan_start
	v1=$(defs_get 'd["set"]')
	install_defs "$DEFS/v2/picket.cud"
	v2=$(defs_get 'd["set"]')
	assert_eq "$(defs_get 'd["last_known_good"]')" "$v1"
	stop_picketd

	# The active set's file now holds a database that fails to load.
	f=$STATE/defs/sets/$v2/picket.cud
	[ "$(readlink -f "$STATE/defs/active")" = "$STATE/defs/sets/$v2" ]
	chmod 0644 "$f"
	cp "$DEFS/bad/bad-sigline.cud" "$f"
	chmod 0644 "$f"
	cmp "$f" "$DEFS/bad/bad-sigline.cud"

	start_scan_picketd
	wait_for -t "$SCAN_WAIT" s_has_event defs_rolled_back
	wait_ready
	reason=$(slast defs_rolled_back | jpy 'd["reason"]')
	assert_contains "$reason" "Malformed database"
	assert_eq "$(defs_get 'd["set"]')" "$v1" "active set after the rollback"
	assert_eq "$(active_set)" "$v1"
	assert_eq "$(defs_get '[f["version"] for f in d["files"]]')" "[1]"
	assert_eq "$(scanner 's["signatures"]')" 2
	[ ! -e "$STATE/defs/sets/$v2" ]
	# The file that failed, kept with its reason.
	[ -f "$STATE/defs/rejected/picket.cud" ]
	cmp "$STATE/defs/rejected/picket.cud" "$DEFS/bad/bad-sigline.cud"
	assert_contains "$(cat "$STATE/defs/rejected/picket.cud.reason")" "reason: rollback: $reason"
	# Raised at the failed start, cleared once the service is up (the
	# first pair: before the first install).
	wait_for fault_cleared 7
	assert_eq "$(s_fault_history 7)" "fault_raised fault_cleared fault_raised fault_cleared"
	raised=$(slast fault_raised 7)
	assert_contains "$(jpy 'd["fault"]["detail"]' <<<"$raised")" "scan service failed to start at defs-load"
	assert_eq "$(jpy 'd["fault"]["severity"]' <<<"$raised")" critical
	# In the order it happened.
	assert_eq "$(sev "[e['type'] for e in all_ev if e['type'] in ('defs_rolled_back', 'scan_service_ready') or e.get('fault', {}).get('id') == 7][-4:]")" \
		'["fault_raised","defs_rolled_back","fault_cleared","scan_service_ready"]'
	cp "$DEFS/eicar.com" "$T/eicar.com"
	run ctl scan "$T/eicar.com"
	assert_eq "$status" 1
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"
}

@test "fault 7: MemAvailable below min_mem_mb stops the start; more memory clears it" {
	put "$ROOT/proc/meminfo" 'MemTotal:        1048576 kB
MemFree:           10240 kB
MemAvailable:      10240 kB'
	scan_policy --faults "min_mem_mb = 256;"
	start_scan_picketd
	wait_for fault_active 7
	detail=$(fault_detail 7)
	assert_contains "$detail" "MemAvailable 10 MiB"
	assert_contains "$detail" "min_mem_mb 256 MiB"
	# Definitions do not help while memory is short.
	run -0 ctl defs install "$DEFS/picket.cud"
	wait_for fault_detail_matches 7 'MemAvailable 10 MiB .*min_mem_mb 256 MiB'
	assert_eq "$(scanner 's["state"]')" restarting

	put "$ROOT/proc/meminfo" 'MemTotal:       16318412 kB
MemFree:         9015224 kB
MemAvailable:   12642712 kB'
	# Within the restart backoff (1, 2, 4 s since the install).
	wait_for -t "$SCAN_WAIT" fault_cleared 7
	wait_ready
	assert_eq "$(s_fault_history 7)" "fault_raised fault_cleared"
}

# ------------------------------------------------------------------ fault 6

@test "fault 6: three crashes in the window raise it; a calm period clears it" {
	scan_policy --faults "scan_crash_count = 3; scan_crash_window = 60; scan_calm = 4;"
	scan_start
	kill_scand SEGV
	kill_scand SEGV
	refute fault_active 6
	assert_eq "$(scount scan_service_crashed)" 2
	pid=$(scanner_pid)
	kill -SEGV "$pid"
	wait_for fault_active 6
	detail=$(fault_detail 6)
	assert_contains "$detail" "3 crashes"
	assert_eq "$detail" "3 crashes in 60 s; in the engine: (idle), (idle), (idle)"
	assert_eq "$(fault_get 6 'f["severity"]')" major
	assert_eq "$(sev "[(e['how'], e['path']) for e in of('scan_service_crashed')]")" \
		'[["killed by signal 11 (Segmentation fault)",""],["killed by signal 11 (Segmentation fault)",""],["killed by signal 11 (Segmentation fault)",""]]'
	# The service comes back, and 4 s without a crash clear the fault.
	wait_ready "$pid"
	wait_for -t "$SCAN_WAIT" fault_cleared 6
	assert_eq "$(s_fault_history 6)" "fault_raised fault_cleared"
	# Not before the calm period (whole seconds: at least 3 s) after the last crash.
	calm=$(sev "(lambda t: t(of('fault_cleared', 6)[-1]) - t(of('scan_service_crashed')[-1]))(lambda e: __import__('datetime').datetime.fromisoformat(e['time'].replace('Z', '+00:00')).timestamp())")
	awk -v c="$calm" 'BEGIN { exit !(c >= 3) }' || fail "fault 6 cleared ${calm} s after the last crash; scan_calm is 4 s"
}

@test "liveness: a scan service that stops answering pings is restarted" {
	scan_start
	pid=$(scanner_pid)
	# Stopped, it cannot answer: killed at the first tick 3 s after its ping.
	kill -STOP "$pid"
	wait_ready "$pid"
	assert_eq "$(sev "[e['how'] for e in of('scan_service_crashed')]")" '["killed by signal 9 (Killed)"]'
	run ctl scan "$DEFS/eicar.com"
	assert_eq "$status" 1
}

@test "fault 6: still active after scan_escalate: critical, user intervention needed" {
	scan_policy --faults "scan_crash_count = 3; scan_crash_window = 60; scan_calm = 3600; scan_escalate = 1;"
	scan_start
	kill_scand SEGV
	kill_scand SEGV
	kill -SEGV "$(scanner_pid)"
	wait_for fault_active 6
	wait_for fault_detail_matches 6 '^user intervention needed: 3 crashes in 60 s'
	assert_eq "$(fault_get 6 'f["severity"]')" critical
	assert_eq "$(slast fault_raised 6 | jpy '[d["fault"]["severity"], d["fault"]["detail"][:26]]')" \
		'["critical","user intervention needed: "]'
	assert_eq "$(scount fault_raised 6)" 2 "raised, then raised again as critical"
	run ctl health
	assert_eq "$status" 1
	assert_contains "$output" "6 critical"
}

# make_slow_zip FILE: a zip of 8000 small members, which takes the engine
# seconds to scan (2.7 s on the machine these tests were written on).
make_slow_zip() {
	"$PYTHON" - "$1" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(8000):
        z.writestr("m%05d.txt" % i, ("member %d " % i) * 100)
EOF
}

# scan_to OUT PATH...: `picketctl --json scan PATH...` with its output in OUT.
scan_to() {
	ctl --json scan "${@:2}" >"$1"
}

has_n_crashes() {
	[ "$(scount scan_service_crashed)" = "$1" ]
}

# inflight PATH: the scan service holds PATH open (it is scanning it).
inflight() {
	local pid
	pid=$(scanner_pid) && [ "$pid" -gt 0 ] && has_open "$pid" "$1"
}

@test "fault 6: a crash during a scan names the file; it is scanned again and the scan finishes" {
	make_slow_zip "$T/slow.zip"
	scan_start
	bg scan_to "$T/scan.out" "$T/slow.zip"
	scan_pid=$BG_PID
	wait_for -t "$SCAN_WAIT" inflight "$T/slow.zip"
	kill_pid=$(scanner_pid)
	kill -SEGV "$kill_pid"
	wait_for s_has_event scan_service_crashed
	assert_eq "$(slast scan_service_crashed | jpy '[d["how"], d["path"]]')" \
		"[\"killed by signal 11 (Segmentation fault)\",\"$T/slow.zip\"]"
	# Requeued: the next service gets it again.
	wait_for -t "$SCAN_WAIT" inflight "$T/slow.zip"
	[ "$(scanner_pid)" != "$kill_pid" ]
	wait_for -t "$SCAN_WAIT" proc_gone "$scan_pid"
	wait "$scan_pid" && st=0 || st=$?
	assert_eq "$st" 0 "exit status of the scan"
	assert_eq "$(scount scan_suspect_skipped)" 0
	assert_eq "$(scount scan_service_crashed)" 1
}

@test "fault 6: a file that crashes the engine twice is skipped, reported, and nothing else is lost" {
	mkdir "$T/tree"
	make_slow_zip "$T/tree/slow.zip"
	for i in $(seq 1 20); do
		printf 'clean file %d\n' "$i" >"$T/tree/clean$i.txt"
	done
	cp "$DEFS/eicar.com" "$T/tree/eicar.com"
	cp "$TESTFILES/clam.exe" "$T/tree/clam.exe"
	scan_start
	bg scan_to "$T/scan.out" "$T/tree"
	scan_pid=$BG_PID
	for n in 1 2; do
		wait_for -t "$SCAN_WAIT" inflight "$T/tree/slow.zip"
		kill -SEGV "$(scanner_pid)"
		wait_for has_n_crashes "$n"
	done
	wait_for -t "$SCAN_WAIT" proc_gone "$scan_pid"
	wait "$scan_pid" && st=0 || st=$?
	assert_eq "$st" 1 "exit status of the scan (infected files)"

	assert_eq "$(sev "[e['path'] for e in of('scan_service_crashed')]")" "[\"$T/tree/slow.zip\",\"$T/tree/slow.zip\"]"
	assert_eq "$(slast scan_suspect_skipped | jpy '[d["path"], d["crashes"]]')" "[\"$T/tree/slow.zip\",2]"
	reply=$(tail -n 1 "$T/scan.out")
	# Every file was answered: 23 files, the 2 infected, the suspect a failure.
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"]]' <<<"$reply")" '[23,2,1]'
	assert_eq "$(jpy '[x["path"] for x in d["failures"]]' <<<"$reply")" "[\"$T/tree/slow.zip\"]"
	assert_contains "$(jpy 'd["failures"][0]["error"]' <<<"$reply")" "crashed the scan engine twice"
	assert_eq "$(jpy '"\n".join(sorted("%s %s" % (x["path"], x["signature"]) for x in d["detections"]))' <<<"$reply")" \
		"$(printf '%s\n' "$T/tree/clam.exe $CLAM_SIG" "$T/tree/eicar.com $EICAR_SIG" | LC_ALL=C sort)"
	assert_eq "$(scanner 's["queued"]')" 0

	# Until the definitions change, it is not sent to the engine again.
	wait_ready
	run --separate-stderr ctl --json scan "$T/tree/slow.zip"
	assert_eq "$status" 0
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["errors"]]' <<<"${lines[-1]}")" '[1,1]'
	assert_contains "$(jpy 'd["failures"][0]["error"]' <<<"${lines[-1]}")" "crashed the scan engine twice"
	assert_eq "$(scount scan_service_crashed)" 2
}


# ------------------------------------------------------------------ fault 5

@test "fault 5: without the scan user the service runs as root; recreated, it drops again" {
	scan_start --real-host
	uid=$(scan_uid)
	pid=$(scanner_pid)
	assert_eq "$(proc_status "$pid" Uid)" "$uid $uid $uid $uid"
	wait_recheck
	refute fault_active 5
	SAVED_PASSWD=$(getent passwd "$SCAN_USER")
	SAVED_GROUP=$(getent group "$SCAN_USER")

	# The service runs as that user: force its removal.
	userdel --force "$SCAN_USER"
	if getent group "$SCAN_USER" >/dev/null; then
		groupdel "$SCAN_USER"
	fi
	wait_for fault_active 5
	kill_scand KILL
	assert_eq "$(proc_status "$SCAND_PID" Uid)" "0 0 0 0" "Uid of the scan service"
	assert_eq "$(proc_status "$SCAND_PID" CapEff)" 0000000000000000 "CapEff as root"
	assert_eq "$(scanner 's["detail"]')" "running as root"
	wait_for fault_detail_matches 5 'runs as root'
	assert_contains "$(fault_detail 5)" "scan user '$SCAN_USER' does not exist"
	assert_eq "$(slast scan_service_ready | jpy 'd["uid"]')" 0
	run ctl scan "$TESTFILES/clam.exe"
	assert_eq "$status" 1

	restore_scan_user
	# Still raised: the running service is root until it restarts.
	wait_recheck
	fault_active 5
	assert_contains "$(fault_detail 5)" "runs as root"
	kill_scand KILL
	assert_eq "$(proc_status "$SCAND_PID" Uid)" "$uid $uid $uid $uid"
	wait_for fault_cleared 5
	assert_eq "$(s_fault_history 5)" "fault_raised fault_cleared"
	assert_eq "$(scanner 's["detail"]')" "running as the scan user"
}
