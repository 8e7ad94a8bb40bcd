#!/usr/bin/env bats
# The file monitor (fanotify) on the real kernel: files copied, moved and
# linked into a watched filesystem are scanned and a detection names the
# file, the process and the signature; exclusions; on-execute audit and
# block; the bound on every permission event; marks that follow the mount
# table and the policy; path exclusions as the kernel's ignore marks, moved
# by reloads; fault 8.
#
# Each test mounts its own tmpfs at $W and (but where the test is about the
# mount selection) marks only that one: mounts_include = [ "$W" ].

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	# Fault 8 is what some of these tests compare.
	OTHER_FAULTS="6 7 20 9 22"
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=0755 fsmon-e2e "$W"
	MOUNTS+=("$W")
}

# fs_policy [FILE_MONITOR_SETTINGS] [LINE...]: the scan test policy with the
# file and process monitors on (the process monitor names short-lived
# writers such as cp), the network monitor off, and a file_monitor group
# (default: only $W is watched).
fs_policy() {
	local fm="mounts_include = [ \"$W\" ];"
	if [ $# -gt 0 ]; then
		fm=$1
		shift
	fi
	scan_policy "monitor_file_copies_moves = true;" "monitor_process_execution = true;" \
		"device_flow_correlation = false;" "file_monitor = { $fm };" "$@"
}

# fs EXPR: EXPR in Python on f = the file monitor's status.
fs() {
	local out
	out=$(ctl --json status) || fail "picketctl --json status failed: $out" || return
	jpy "(lambda f: $1)(d['monitors']['file'])" <<<"$out"
}

# fs_is EXPR VALUE: fs EXPR prints VALUE.
fs_is() {
	[ "$(fs "$1")" = "$2" ]
}

# fs_idle: no scan of the monitor's is waiting, no execution is pending.
fs_idle() {
	[ "$(fs '(f["queued"], f["perm_pending"])')" = "[0,0]" ]
}

# settle: waits until the monitor is idle twice, 0.3 s apart (events the
# kernel still held are read by then).
settle() {
	wait_for fs_idle && sleep 0.3 && wait_for fs_idle
}

# evs TYPE [PATH]: the events of TYPE (about PATH), as a JSON list.
evs() {
	sev "[e for e in of('$1') if '${2-}' in ('', e.get('path'))]"
}

# nev TYPE [PATH]: how many.
nev() {
	sev "len([e for e in of('$1') if '${2-}' in ('', e.get('path'))])"
}

# nev_is TYPE PATH N
nev_is() {
	[ "$(nev "$1" "$2")" = "$3" ]
}

has_ev() {
	[ "$(nev "$@")" -gt 0 ]
}

# ev1 TYPE PATH EXPR: EXPR on the only event (e) of TYPE about PATH.
ev1() {
	sev "(lambda l: (lambda e: $3)(l[0]) if len(l) == 1 else 'expected one %s event about $2, got %d' % ('$1', len(l)))([e for e in of('$1') if e.get('path') == '$2'])"
}

# run_exec FILE: execve(FILE) straight from Python (no shell retries
# ENOEXEC as a script); sets EXEC_PID and EXEC_OUT, the errno's name.
run_exec() {
	"$PYTHON" -c '
import errno, os, sys
try:
    os.execv(sys.argv[1], [sys.argv[1]])
except OSError as e:
    print(errno.errorcode[e.errno])
    sys.exit(1)
' "$1" >"$T/exec.out" 2>&1 &
	EXEC_PID=$!
	wait "$EXEC_PID" || true
	EXEC_OUT=$(cat "$T/exec.out")
}

# ------------------------------------------------------------------ marks

@test "file monitor: every local filesystem is marked once, pseudo filesystems never" {
	fs_policy "on_execute = \"off\";"
	start_picketd
	assert_eq "$(fs '[f["state"], f["backend"], f["on_execute"]]')" '["running","fanotify","off"]'
	local marked
	marked=$(fs '" ".join(f["filesystems"])')
	assert_contains " $marked " " / " "filesystems"
	assert_contains " $marked " " $W " "filesystems"
	local p pseudo
	pseudo=$(findmnt -n -l -o TARGET -t proc,sysfs,devtmpfs,devpts,cgroup,cgroup2,mqueue,tracefs,debugfs,securityfs,bpf)
	[ -n "$pseudo" ]
	for p in $pseudo; do
		assert_not_contains " $marked " " $p " "filesystems"
	done
	# Each filesystem once: no mount point twice, no st_dev twice.
	assert_eq "$(fs 'len(f["filesystems"]) == len(set(f["filesystems"]))')" true
	assert_eq "$(for m in $marked; do stat -c %d "$m"; done | sort | uniq -d)" "" "devices marked twice"
	# A kernel-matrix guest (tests/kernels) has an overlay over 9p as its
	# root: 9p files have no handles, so that root cannot report moves.
	local unmarked='[]'
	if [ -n "${PICKET_KERNEL_MATRIX-}" ]; then
		unmarked='[{"mount":"/","fstype":"overlay","events":"moves","errno":95,"error":"Operation not supported"}]'
	fi
	assert_eq "$(fs 'f["unmarked"]')" "$unmarked"
	assert_eq "$(fault_state 8)" cleared
}

@test "file monitor: mounts_include and mounts_exclude; a listed path that is no mount point is reported" {
	mkdir -p "$T/w2" "$T/notamount"
	mount -t tmpfs fsmon-e2e-2 "$T/w2"
	MOUNTS+=("$T/w2")
	fs_policy "mounts_include = [ \"$W\", \"$T/w2\", \"$T/notamount\" ]; mounts_exclude = [ \"$T/w2\" ];"
	scan_start
	assert_eq "$(fs 'f["filesystems"]')" "[\"$W\"]"
	assert_eq "$(fs '[(u["mount"], u["events"], u["error"]) for u in f["unmarked"]]')" \
		"[[\"$T/notamount\",\"all\",\"not a mount point\"]]"

	# Nothing in the excluded filesystem is seen.
	cp "$DEFS/eicar.com" "$T/w2/eicar.com"
	cp "$DEFS/eicar.com" "$W/eicar.com"
	wait_for has_ev detection "$W/eicar.com"
	settle
	assert_eq "$(nev detection "$T/w2/eicar.com")" 0
}

@test "file monitor: a filesystem mounted later is marked; one unmounted is dropped" {
	mkdir -p "$T/late"
	fs_policy "mounts_include = [ \"$W\", \"$T/late\" ];"
	scan_start
	assert_eq "$(fs 'f["filesystems"]')" "[\"$W\"]"
	mount -t tmpfs fsmon-e2e-late "$T/late"
	MOUNTS+=("$T/late")
	wait_for fs_is 'f["filesystems"]' "[\"$W\",\"$T/late\"]"
	cp "$DEFS/eicar.com" "$T/late/eicar.com"
	wait_for has_ev detection "$T/late/eicar.com"
	# Once its scan is done, no descriptor of picketd's keeps it busy.
	settle
	umount "$T/late"
	MOUNTS=("$W")
	wait_for fs_is 'f["filesystems"]' "[\"$W\"]"
}

# --------------------------------------------------------------- copies

@test "file monitor: cp of EICAR is one detection naming cp (pid, exe), the file, the signature, close_write" {
	fs_policy
	scan_start
	cp "$DEFS/eicar.com" "$W/eicar.com" &
	local pid=$!
	wait "$pid"
	wait_for has_ev detection "$W/eicar.com"
	settle
	assert_eq "$(nev detection)" 1 "detection events"
	assert_eq "$(ev1 detection "$W/eicar.com" '[e["signature"], e["action"], e["trigger"], e["process"]["pid"], e["process"]["exe"], e["process"]["uid"]]')" \
		"[\"$EICAR_SIG\",\"audit\",\"close_write\",$pid,\"/usr/bin/cp\",0]"
	assert_eq "$(fs '[f["events"]["close_write"], f["detected"], f["clean"]]')" "[1,1,0]"
	# audit: the file stays.
	[ -f "$W/eicar.com" ]
}

@test "file monitor: mv from an excluded directory (a rename) is one detection naming mv, moved_to" {
	mkdir -p "$W/incoming"
	fs_policy "mounts_include = [ \"$W\" ];" "path_exclusions = [ \"$W/incoming\" ];"
	scan_start
	# Dropped by the kernel: the directory's ignore mark.
	cp "$DEFS/eicar.com" "$W/incoming/eicar.com"
	mv "$W/incoming/eicar.com" "$W/moved.com" &
	local pid=$!
	wait "$pid"
	wait_for has_ev detection "$W/moved.com"
	settle
	assert_eq "$(nev detection)" 1 "detection events"
	assert_eq "$(ev1 detection "$W/moved.com" '[e["signature"], e["trigger"], e["process"]["pid"], e["process"]["exe"]]')" \
		"[\"$EICAR_SIG\",\"moved_to\",$pid,\"/usr/bin/mv\"]"
	assert_eq "$(fs '[f["events"]["moved_to"], f["events"]["close_write"], f["excluded"], f["detected"]]')" "[1,0,0,1]"
}

@test "file monitor: a hard link into place is scanned (create), a plain new file only once" {
	mkdir -p "$W/incoming"
	fs_policy "mounts_include = [ \"$W\" ];" "path_exclusions = [ \"$W/incoming\" ];"
	scan_start
	cp "$DEFS/eicar.com" "$W/incoming/eicar.com"
	ln "$W/incoming/eicar.com" "$W/linked.com" &
	local pid=$!
	wait "$pid"
	wait_for has_ev detection "$W/linked.com"
	settle
	assert_eq "$(nev detection)" 1 "detection events"
	assert_eq "$(ev1 detection "$W/linked.com" '[e["trigger"], e["process"]["pid"], e["process"]["exe"]]')" \
		"[\"create\",$pid,\"/usr/bin/ln\"]"
	# cp's create in the excluded directory is dropped by the kernel; the
	# link's is the one scan.
	assert_eq "$(fs '[f["events"]["create"], f["scanned"]]')" "[1,1]"
}

@test "file monitor: a clean file is no detection; report_clean gives one file_scan event" {
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;"
	scan_start
	sh -c 'echo $$ >"$1"; exec cp /etc/os-release "$2"' sh "$T/cp.pid" "$W/clean.txt"
	wait_for has_ev file_scan "$W/clean.txt"
	settle
	assert_eq "$(nev detection)" 0 "detection events"
	assert_eq "$(nev file_scan)" 1 "file_scan events"
	assert_eq "$(ev1 file_scan "$W/clean.txt" '[e["verdict"], e["trigger"], e["process"]["pid"], e["process"]["exe"]]')" \
		"[\"clean\",\"close_write\",$(cat "$T/cp.pid"),\"/usr/bin/cp\"]"
}

@test "file monitor: a clean file with report_clean off writes no event" {
	fs_policy
	scan_start
	cp /etc/os-release "$W/clean.txt"
	wait_for fs_is 'f["clean"]' 1
	settle
	assert_eq "$(nev file_scan)$(nev detection)" 00
}

@test "file monitor: a path exclusion and a process exclusion each suppress their file" {
	mkdir -p "$W/skip"
	fs_policy "mounts_include = [ \"$W\" ];" "path_exclusions = [ \"$W/skip\" ];" \
		"process_exclusions = [ \"/usr/bin/dd\" ];"
	scan_start
	cp "$DEFS/eicar.com" "$W/skip/eicar.com"
	dd if="$DEFS/eicar.com" of="$W/by-dd.com" status=none
	# A third copy that is seen: once it is reported, the two before it were handled.
	cp "$DEFS/eicar.com" "$W/seen.com"
	wait_for has_ev detection "$W/seen.com"
	settle
	# Detections as "path exe": dd must be named dd (or its file excluded).
	assert_eq "$(sev "[e['path'] + ' ' + e['process'].get('exe', '?') for e in of('detection')]")" \
		"[\"$W/seen.com /usr/bin/cp\"]"
	# The file in skip/ never reaches picketd (an ignore mark); dd's is
	# excluded in user space.
	assert_eq "$(fs '[f["events"]["close_write"], f["excluded"], f["scanned"]]')" "[2,1,1]"
}

# ------------------------------------------------------------ ignore marks

@test "ignore marks: a path exclusion that is a mount point and one that is a directory; nothing of theirs reaches picketd" {
	mkdir -p "$W/m" "$W/dir/sub"
	mount -t tmpfs fsmon-e2e-m "$W/m"
	MOUNTS=("$W/m" "${MOUNTS[@]}") # unmounted before $W
	fs_policy "mounts_include = [ \"$W\", \"$W/m\" ]; on_execute = \"audit\";" \
		"path_exclusions = [ \"$W/m\", \"$W/dir\", \"$W/nope\" ];"
	scan_start
	assert_eq "$(fs 'f["filesystems"]')" "[\"$W\",\"$W/m\"]"
	assert_eq "$(fs '[f["ignore_marks"], [(i["path"], i["on"]) for i in f["ignore"]]]')" \
		"[2,[[\"$W/m\",\"mount\"],[\"$W/dir\",\"directory\"]]]"
	# A path that does not exist: skipped, logged, listed.
	assert_eq "$(fs '[(s["path"], s["reason"]) for s in f["ignore_skipped"]]')" \
		"[[\"$W/nope\",\"No such file or directory\"]]"
	grep -q "path exclusion $W/nope: No such file or directory" "$DLOG"

	# Written, linked, moved into place and executed there: the kernel
	# drops all of it (an execution would wait for picketd's answer).
	local d
	for d in "$W/m" "$W/dir"; do
		cp "$DEFS/eicar.com" "$d/eicar.com"
		ln "$d/eicar.com" "$d/linked.com"
		cp /bin/true "$d/true"
		"$d/true"
	done
	# Below the directory's children the user-space check excludes it.
	cp "$DEFS/eicar.com" "$W/dir/sub/eicar.com"
	mv "$W/dir/sub/eicar.com" "$W/dir/moved.com"
	# A copy that is seen: once it is reported, everything before was handled.
	cp "$DEFS/eicar.com" "$W/seen.com"
	wait_for has_ev detection "$W/seen.com"
	settle
	assert_eq "$(sev "[e['path'] for e in of('detection')]")" "[\"$W/seen.com\"]"
	# sub/eicar.com and seen.com, each a create and a close-write; one
	# excluded in user space (sub/eicar.com), one scan.
	assert_eq "$(fs '[f["events"], f["excluded"], f["scanned"]]')" \
		'[{"close_write":2,"moved_to":0,"create":2,"open_exec":0},1,1]'
}

# writer DIR: writes files 0, 1, 2 ... into DIR until $T/flow.stop exists,
# then the number written into $T/flow.done.
writer() {
	bg sh -c 'i=0
		until [ -e "$2/flow.stop" ]; do echo $i >"$1/$i"; i=$((i + 1)); sleep 0.01; done
		echo $i >"$2/flow.done.new" && mv "$2/flow.done.new" "$2/flow.done"' sh "$1" "$T"
}

@test "ignore marks follow policy reloads: the same daemon, no event lost" {
	mkdir -p "$W/a" "$W/b" "$W/flow"
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;" "path_exclusions = [ \"$W/a\" ];"
	scan_start
	local pid=$PICKETD_PID
	assert_eq "$(fs '[i["path"] for i in f["ignore"]]')" "[\"$W/a\"]"
	# A writer in a directory never excluded, busy across both reloads.
	writer "$W/flow"
	wait_for test -e "$W/flow/0"

	# a out, b in.
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;" "path_exclusions = [ \"$W/b\" ];"
	run -0 ctl policy reload
	echo a >"$W/a/1.txt"
	echo b >"$W/b/1.txt"
	echo c >"$W/1.txt"
	wait_for has_ev file_scan "$W/1.txt"
	wait_for has_ev file_scan "$W/a/1.txt"
	assert_eq "$(fs '[f["ignore_marks"], [i["path"] for i in f["ignore"]]]')" "[1,[\"$W/b\"]]"

	# None left.
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;"
	run -0 ctl policy reload
	echo b >"$W/b/2.txt"
	wait_for has_ev file_scan "$W/b/2.txt"
	assert_eq "$(fs '[f["ignore_marks"], f["ignore"]]')" "[0,[]]"

	touch "$T/flow.stop"
	wait_for test -e "$T/flow.done"
	settle
	local n
	n=$(cat "$T/flow.done")
	echo "the writer wrote $n files" >&3
	# Every file the writer wrote was scanned, once.
	assert_eq "$(sev "len([e for e in of('file_scan') if e['path'].startswith('$W/flow/')])")" "$n"
	assert_eq "$(sev "len(set(e['path'] for e in of('file_scan') if e['path'].startswith('$W/flow/')))")" "$n"
	assert_eq "$(nev file_scan "$W/b/1.txt")" 0
	assert_eq "$(fs '[f["excluded"], f["overflow"], f["queue_full"]]')" "[0,0,0]"
	# A reload, not a restart.
	assert_eq "$(ctl --json status | jpy 'd["pid"]')" "$pid"
}

@test "ignore marks: a reload removes the mark of an excluded directory renamed since" {
	mkdir -p "$W/x"
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;" "path_exclusions = [ \"$W/x\" ];"
	scan_start
	mv "$W/x" "$W/y"
	fs_policy "mounts_include = [ \"$W\" ]; report_clean = true;"
	run -0 ctl policy reload
	assert_eq "$(fs 'f["ignore_marks"]')" 0
	# Found by its handle: its children are seen again.
	echo 2 >"$W/y/2.txt"
	wait_for has_ev file_scan "$W/y/2.txt"
}

@test "ignore marks follow the mount table: a directory excluded becomes a mount point" {
	mkdir -p "$W/d"
	fs_policy "mounts_include = [ \"$W\" ];" "path_exclusions = [ \"$W/d\" ];"
	scan_start
	assert_eq "$(fs '[(i["path"], i["on"]) for i in f["ignore"]]')" "[[\"$W/d\",\"directory\"]]"
	# A bind mount of $W's own filesystem: watched through the mark on $W.
	mkdir -p "$W/src"
	mount --bind "$W/src" "$W/d"
	MOUNTS=("$W/d" "${MOUNTS[@]}")
	wait_for fs_is '[(i["path"], i["on"]) for i in f["ignore"]]' "[[\"$W/d\",\"mount\"]]"
	mkdir -p "$W/d/deep/er"
	cp "$DEFS/eicar.com" "$W/d/deep/er/eicar.com"
	# The same file through the other mount is seen.
	cat "$W/d/deep/er/eicar.com" >"$W/src/deep/er/seen.com"
	wait_for has_ev detection "$W/src/deep/er/seen.com"
	settle
	assert_eq "$(nev detection)" 1
	assert_eq "$(fs '[f["events"]["close_write"], f["excluded"]]')" "[1,0]"
}

@test "file monitor: without the process monitor, processes are named from /proc; exclusions apply" {
	local py
	py=$(readlink -f "$PYTHON")
	scan_policy "monitor_file_copies_moves = true;" "device_flow_correlation = false;" \
		"file_monitor = { mounts_include = [ \"$W\" ]; };" "process_exclusions = [ \"$py\" ];"
	scan_start
	assert_eq "$(fs 'f["attribution"]')" proc
	# A writer still running when its close is read: named from /proc.
	"$PYTHON" -c 'import sys, time
open(sys.argv[2], "wb").write(open(sys.argv[1], "rb").read())
time.sleep(1)' "$DEFS/eicar.com" "$W/by-python.com" &
	local pid=$!
	cp "$DEFS/eicar.com" "$W/seen.com" &
	local cp_pid=$!
	wait "$cp_pid"
	wait_for has_ev detection "$W/seen.com"
	wait "$pid"
	settle
	assert_eq "$(sev "[e['path'] for e in of('detection')]")" "[\"$W/seen.com\"]"
	assert_eq "$(fs 'f["excluded"]')" 1
	# cp is gone by the time its close is read, and no exec event named it:
	# the event still carries its pid.
	assert_eq "$(ev1 detection "$W/seen.com" 'e["process"]["pid"]')" "$cp_pid"
}

@test "file monitor: quarantine moves the detected file away; one event names action and process" {
	scan_policy --scan "allow_unsigned_defs = true; action = \"quarantine\";" \
		"monitor_file_copies_moves = true;" "monitor_process_execution = true;" \
		"device_flow_correlation = false;" "file_monitor = { mounts_include = [ \"$W\" ]; };"
	scan_start
	cp "$DEFS/eicar.com" "$W/eicar.com" &
	local pid=$!
	wait "$pid"
	wait_for has_ev detection "$W/eicar.com"
	settle
	assert_eq "$(ev1 detection "$W/eicar.com" '[e["action"], "qid" in e, e["trigger"], e["process"]["pid"]]')" \
		"[\"quarantined\",true,\"close_write\",$pid]"
	[ ! -e "$W/eicar.com" ]
	# picketd's own writes into its quarantine are not events of their own.
	assert_eq "$(nev detection)" 1
}

# ------------------------------------------------------------- on execute

@test "on_execute block: a detected file cannot be executed (EPERM), exec_blocked names it; a clean binary runs" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	scan_start
	assert_eq "$(fs 'f["on_execute"]')" block
	install -m 0755 "$DEFS/eicar.com" "$W/bad"
	cp /bin/true "$W/true"
	"$W/true"
	wait_for has_ev detection "$W/bad"
	settle
	# A new ctime: the verdict of the copy no longer applies, the execution
	# waits for a scan of its own.
	chmod 0755 "$W/bad"

	# fanotify's FAN_DENY fails the execve with EPERM (the kernel allows no
	# other errno for a content group).
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" EPERM
	wait_for has_ev exec_blocked "$W/bad"
	assert_eq "$(ev1 exec_blocked "$W/bad" '[e["signature"], e["trigger"], e["process"]["pid"]]')" \
		"[\"$EICAR_SIG\",\"exec\",$EXEC_PID]"
	settle
	assert_eq "$(fs '[f["perm_denied"], f["events"]["open_exec"] >= 2, f["perm_timeouts"]]')" "[1,true,0]"
	# Again: scanned again, tmpfs is not trusted to tell a change (scanq.h;
	# adversarial_fsmon.bats has the cached case on ext4).
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" EPERM
	wait_for nev_is exec_blocked "$W/bad" 2
	assert_eq "$(sev "[e['cached'] for e in of('exec_blocked')]")" "[false,false]"
	"$W/true"
}

@test "on_execute audit: the execution goes ahead and exec_detected names it" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"audit\";"
	scan_start
	install -m 0755 "$DEFS/eicar.com" "$W/bad"
	# Allowed: the kernel itself then refuses a file that is no program.
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" ENOEXEC
	wait_for has_ev exec_detected "$W/bad"
	assert_eq "$(ev1 exec_detected "$W/bad" '[e["signature"], e["process"]["pid"]]')" \
		"[\"$EICAR_SIG\",$EXEC_PID]"
	assert_eq "$(nev exec_blocked)" 0
	assert_eq "$(fs 'f["perm_denied"]')" 0
}

@test "on_execute: an undecided execution is allowed at perm_timeout_ms, with exec_timeout" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\"; perm_timeout_ms = 400;"
	scan_start
	# A scan service that hangs: stopped, it takes the next file and never answers.
	local scand
	scand=$(scanner_pid)
	kill -STOP "$scand"
	cp /bin/true "$W/true"
	local t0 t1
	t0=$(_now_us)
	"$W/true"
	t1=$(_now_us)
	kill -CONT "$scand"
	local ms=$(((t1 - t0) / 1000))
	echo "execution took $ms ms" >&3
	[ "$ms" -ge 400 ] || fail "allowed after $ms ms, before the timeout"
	[ "$ms" -lt 1400 ] || fail "allowed after $ms ms: the bound is 400 ms"
	wait_for has_ev exec_timeout "$W/true"
	assert_eq "$(ev1 exec_timeout "$W/true" '[e["timeout_ms"], e["waited_ms"] >= 400, e["waited_ms"] < 1400]')" \
		"[400,true,true]"
	assert_eq "$(fs 'f["perm_timeouts"]')" 1
}

@test "on_execute: with the scan service not ready, executions are allowed at once with exec_unscanned" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	start_scan_picketd # no definitions: the scan service cannot start
	cp /bin/true "$W/true"
	local t0 t1
	t0=$(_now_us)
	"$W/true"
	"$W/true"
	t1=$(_now_us)
	[ $(((t1 - t0) / 1000)) -lt 1000 ] || fail "two executions took $(((t1 - t0) / 1000)) ms"
	wait_for has_ev exec_unscanned "$W/true"
	assert_match "$(ev1 exec_unscanned "$W/true" 'e["reason"]')" "^scan service (down|restarting|starting)$"
	assert_eq "$(fs '[f["perm_unscanned"], f["perm_timeouts"]]')" "[2,0]"
	# Rate-limited: one event for the two.
	assert_eq "$(nev exec_unscanned)" 1
}

@test "on_execute block on the filesystem of picket-scand: picketd's own children start it (no deadlock)" {
	# The service's binary on the watched filesystem (only that one: the
	# host's other executions stay out of this test).
	cp "$SCAND" "$W/picket-scand"
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	start_picketd --scand "$W/picket-scand"
	install_defs "$DEFS/picket.cud"
	local old
	old=$(scanner_pid)
	# A new definitions set: picketd execs the test load and then the new
	# service, waiting for each exec while its loop cannot answer.
	install_defs "$DEFS/v2/picket.cud"
	[ "$(scanner_pid)" != "$old" ]
	# Allowed by the permission thread at once: none waited for a timeout.
	[ "$(fs 'f["ignored_self"]')" -ge 3 ]
	assert_eq "$(fs '[f["perm_timeouts"], f["perm_denied"]]')" "[0,0]"
	assert_eq "$(nev exec_timeout)" 0
}

@test "on_execute: stopping picketd answers the executions still waiting" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\"; perm_timeout_ms = 60000;"
	scan_start
	kill -STOP "$(scanner_pid)"
	cp /bin/true "$W/true"
	bg "$W/true"
	local pid=$BG_PID
	wait_for fs_is 'f["perm_pending"]' 1
	refute proc_gone "$pid"
	stop_picketd
	wait_for proc_gone "$pid"
	wait "$pid"
}

@test "on_execute follows policy reloads: off, block, off" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"off\";"
	scan_start
	install -m 0755 "$DEFS/eicar.com" "$W/bad"
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" ENOEXEC
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	run -0 ctl policy reload
	assert_eq "$(fs 'f["on_execute"]')" block
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" EPERM
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"off\";"
	run -0 ctl policy reload
	run_exec "$W/bad"
	assert_eq "$EXEC_OUT" ENOEXEC
	assert_eq "$(nev exec_blocked)" 1
}

# ---------------------------------------------------------------- fault 8

# start_picketd_nosysadmin: picketd without CAP_SYS_ADMIN (capsh execs it,
# so $PICKETD_PID is picketd itself).
start_picketd_nosysadmin() {
	local saved=$PICKETD
	PICKETD=$T/picketd-nosysadmin
	printf '#!/bin/sh\nexec capsh --drop=cap_sys_admin -- -c '\''exec "$0" "$@"'\'' %s "$@"\n' \
		"$saved" >"$PICKETD"
	chmod 0755 "$PICKETD"
	start_picketd "$@"
	PICKETD=$saved
}

@test "fault 8: without CAP_SYS_ADMIN fanotify_init fails; a normal restart clears it" {
	command -v capsh >/dev/null || skip "capsh (libcap2-bin) is not installed"
	fs_policy
	start_picketd_nosysadmin
	wait_for fault_active 8
	assert_match "$(fault_detail 8)" "^fanotify: fanotify_init: Operation not permitted"
	assert_eq "$(fs 'f["state"]')" failed
	stop_picketd

	start_picketd
	wait_for fault_cleared 8
	assert_eq "$(fs 'f["state"]')" running
	assert_eq "$(s_fault_history 8)" "fault_raised fault_cleared"
}
