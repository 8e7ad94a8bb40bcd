#!/usr/bin/env bats
# Attacks through other mount namespaces, as an unprivileged user would make
# them (nobody, `unshare -Urm`: a user and a mount namespace of its own):
# a tmpfs of the namespace's own, never marked by picketd, holds malware; a
# writable directory bound onto /proc, /sys or picketd's own directories
# inside the namespace makes its files look excluded.  And the race every
# late mount has: a file written before the mark follows the mount.
#
# picketd marks only $W on the host (mounts_exclude names every other mount
# point: mounts_include would leave the namespaces out), and the tests look
# at their own files' events only: other namespaces on this machine are
# followed too.  The namespaces end with the test (their processes are
# killed, their mounts go with them).

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	OTHER_FAULTS="5 6 7 20 9 22"
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=0755 mntns-e2e "$W"
	MOUNTS+=("$W")
	install -d -m 0777 "$W/bind"
}

# ns_policy [FILE_MONITOR_SETTINGS] [LINE...]: the file and process monitors
# on (the process monitor's executions lead to new namespaces; PROCMON=false
# turns it off), only $W marked on the host (INCLUDE: mounts_include
# instead), the default path exclusions (/proc, /sys).
ns_policy() {
	local fm others
	# findmnt -r writes \xNN for a space: such a mount point stays watched.
	others=$(findmnt -rn -o TARGET | grep -vxF "$W" | grep -vF '\' | sort -u |
		sed 's/.*/"&"/' | paste -sd, -)
	if [ -n "${INCLUDE:-}" ]; then
		fm="mounts_include = [ $INCLUDE ];"
	else
		fm="mounts_exclude = [ $others ];"
	fi
	if [ $# -gt 0 ]; then
		fm="$fm $1"
		shift
	fi
	scan_policy "monitor_file_copies_moves = true;" \
		"monitor_process_execution = ${PROCMON:-true};" \
		"device_flow_correlation = false;" "file_monitor = { $fm };" "$@"
}

# fs EXPR: EXPR in Python on f = the file monitor's status.
fs() {
	local out
	out=$(ctl --json status) || fail "picketctl --json status failed: $out" || return
	jpy "(lambda f: $1)(d['monitors']['file'])" <<<"$out"
}

fs_is() {
	[ "$(fs "$1")" = "$2" ]
}

fs_idle() {
	[ "$(fs '(f["queued"], f["perm_pending"])')" = "[0,0]" ]
}

settle() {
	wait_for fs_idle && sleep 0.3 && wait_for fs_idle
}

# dets PATH NS: the detections of PATH in mount namespace NS ("" for the
# host's paths: no mount_namespace in the event), as a JSON list of
# [signature, trigger, mount_namespace or "host"].
dets() {
	sev "[[e['signature'], e['trigger'], e.get('mount_namespace', 'host')] for e in of('detection') if e.get('path') == '$1' and str(e.get('mount_namespace', '')) == '$2']"
}

# ns_dets NS: every detection in mount namespace NS as [path, signature,
# seen closed after the mark or caught up (one of the two)].
ns_dets() {
	sev "[[e['path'], e['signature'], e['trigger'] in ('close_write', 'catch_up')] for e in of('detection') if e.get('mount_namespace') == $1]"
}

has_det() {
	[ "$(dets "$1" "$2")" != "[]" ]
}

# ns_run SCRIPT [STDIN]: SCRIPT in sh as nobody in a new user and mount
# namespace (root there, nobody on the host), stdin from STDIN; the
# namespace lives on (sleep) until the test ends.  Waits for SCRIPT to end;
# NS_PID is the process, NS_ID its mount namespace, NS_OUT what SCRIPT
# printed.
ns_run() {
	local out=$T/ns.out
	: >"$out"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		unshare -Urm sh -c "$1
echo ns-ready; exec sleep 600" <"${2:-/dev/null}" >"$out" 2>&1 &
	NS_PID=$!
	BG_PIDS+=("$NS_PID")
	wait_for grep -qx ns-ready "$out"
	NS_ID=$(stat -L -c %i "/proc/$NS_PID/ns/mnt")
	NS_OUT=$(grep -vx ns-ready "$out" || true)
	[ "$NS_ID" != "$(stat -L -c %i /proc/self/ns/mnt)" ] || fail "no new mount namespace"
}

# ------------------------------------------------------------ own filesystems

@test "mount namespace: EICAR written to a tmpfs mounted in a new namespace is one detection, named by its path there and the namespace's id" {
	ns_policy
	scan_start --real-host
	# Mounted and written at once: no time for picketd to mark it first.
	ns_run 'mount -t tmpfs ns-e2e /tmp && cat >/tmp/eicar.com' "$DEFS/eicar.com"
	wait_for has_det /tmp/eicar.com "$NS_ID"
	settle
	assert_eq "$(ns_dets "$NS_ID")" "[[\"/tmp/eicar.com\",\"$EICAR_SIG\",true]]" \
		"the namespace's detections"
	assert_eq "$(fs "[(e['mount'], e['fstype']) for e in f['mount_namespaces']['filesystems'] if e['mount_namespace'] == $NS_ID]")" \
		'[["/tmp","tmpfs"]]'
	assert_eq "$(fs 'f["mount_namespaces"]["followed"]')" true
}

@test "mount namespace: a file written after the namespace's tmpfs is marked is a close_write detection; the namespace is forgotten with its last process" {
	ns_policy
	scan_start --real-host
	ns_run 'mount -t tmpfs ns-e2e /tmp && echo $$'
	wait_for fs_is "[e['mount'] for e in f['mount_namespaces']['filesystems'] if e['mount_namespace'] == $NS_ID]" '["/tmp"]'
	# Into the namespace's /tmp from outside, through its root (as nobody:
	# root has no uid in the namespace).
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		sh -c "cat >/proc/$NS_PID/root/tmp/later.com" <"$DEFS/eicar.com"
	wait_for has_det /tmp/later.com "$NS_ID"
	settle
	assert_eq "$(dets /tmp/later.com "$NS_ID")" "[[\"$EICAR_SIG\",\"close_write\",$NS_ID]]"
	kill -KILL "$NS_PID"
	wait "$NS_PID" 2>/dev/null || true
	wait_for fs_is "[e for e in f['mount_namespaces']['filesystems'] if e['mount_namespace'] == $NS_ID]" '[]'
}

@test "mount namespace: executing a detected file from the namespace's own tmpfs is blocked, named there" {
	ns_policy 'on_execute = "block";'
	scan_start --real-host
	ns_run 'mount -t tmpfs ns-e2e /tmp && cat >/tmp/run.com && chmod 0755 /tmp/run.com' "$DEFS/eicar.com"
	wait_for has_det /tmp/run.com "$NS_ID"
	run -0 nsenter -t "$NS_PID" -m "$PYTHON" -c '
import errno, os
try:
    os.execv("/tmp/run.com", ["/tmp/run.com"])
except OSError as e:
    print(errno.errorcode[e.errno])
'
	assert_eq "$output" EPERM "the execution"
	assert_eq "$(sev "[(e['path'], e.get('mount_namespace')) for e in of('exec_blocked') if e.get('mount_namespace') == $NS_ID]")" \
		"[[\"/tmp/run.com\",$NS_ID]]"
}

@test "mount namespace: a tmpfs mounted onto /sys in a namespace is not excluded although /sys is" {
	ns_policy
	scan_start --real-host
	ns_run 'mount -t tmpfs ns-e2e /sys && cat >/sys/eicar.com' "$DEFS/eicar.com"
	wait_for has_det /sys/eicar.com "$NS_ID"
	settle
	assert_eq "$(ns_dets "$NS_ID")" "[[\"/sys/eicar.com\",\"$EICAR_SIG\",true]]" \
		"the namespace's detections"
	assert_eq "$(fs 'f["excluded"]')" 0
}

@test "mount namespace: a file still open for writing when its tmpfs is marked is scanned once, at its close_write" {
	ns_policy
	scan_start --real-host
	mkfifo -m 0666 "$T/go"
	# Written, and held open by a child until the test opens the FIFO: the
	# catch-up walk after the mark must leave it to its close_write (it
	# would have scanned it twice when written on during the walk).
	# The FIFO is opened before the namespace's tmpfs hides $T.
	ns_run "exec 5<>$T/go && mount -t tmpfs ns-e2e /tmp && exec 3>/tmp/held.com && cat >&3 &&
{ (read _ <&5; exec 3>&-) & } && exec 3>&- 5>&-" "$DEFS/eicar.com"
	wait_for fs_is "[e['mount'] for e in f['mount_namespaces']['filesystems'] if e['mount_namespace'] == $NS_ID]" '["/tmp"]'
	settle
	assert_eq "$(ns_dets "$NS_ID")" "[]" "the detections while the file is open for writing"
	timeout 10 sh -c 'echo go >"$1"' _ "$T/go"
	wait_for has_det /tmp/held.com "$NS_ID"
	settle
	assert_eq "$(dets /tmp/held.com "$NS_ID")" "[[\"$EICAR_SIG\",\"close_write\",$NS_ID]]"
}

@test "mount namespace: found by the scan of /proc when nothing executes there (no process monitor)" {
	PROCMON=false ns_policy
	scan_start
	assert_eq "$(ctl --json status | jpy 'd["monitors"]["process"]["state"]')" off
	ns_run 'mount -t tmpfs ns-e2e /tmp && cat >/tmp/eicar.com' "$DEFS/eicar.com"
	wait_for -t 15 has_det /tmp/eicar.com "$NS_ID"
	settle
	assert_eq "$(dets /tmp/eicar.com "$NS_ID")" "[[\"$EICAR_SIG\",\"catch_up\",$NS_ID]]"
}

@test "mount namespace: one thread's own namespace (unshare in a thread, no execution) is found by the scan of /proc" {
	ns_policy
	scan_start --real-host
	local out=$T/thread.out
	# A user namespace for the process, then a mount namespace for one
	# thread only: /proc/PID/ns/mnt is still the host's.
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$PYTHON" -c '
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def check(r, what):
    if r != 0:
        sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))
uid, gid = os.getuid(), os.getgid()
check(libc.unshare(0x10000000), "unshare(CLONE_NEWUSER)")
for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid), ("gid_map", "0 %d 1" % gid)):
    with open("/proc/self/" + name, "w") as f:
        f.write(text)
data = sys.stdin.buffer.read()
def thread():
    check(libc.unshare(0x00020000 | 0x00000200), "unshare(CLONE_NEWNS | CLONE_FS)")
    check(libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None), "mount(MS_REC | MS_PRIVATE)")
    check(libc.mount(b"ns-e2e", b"/tmp", b"tmpfs", 0, None), "mount tmpfs")
    with open("/tmp/eicar.com", "wb") as f:
        f.write(data)
    print(os.stat("/proc/thread-self/ns/mnt").st_ino, flush=True)
    time.sleep(600)
threading.Thread(target=thread, daemon=True).start()
time.sleep(600)
' <"$DEFS/eicar.com" >"$out" 2>&1 &
	BG_PIDS+=($!)
	wait_for grep -qx '[0-9]*' "$out"
	local id
	id=$(cat "$out")
	[ "$id" != "$(stat -L -c %i "/proc/$!/ns/mnt")" ] || fail "the process's own namespace"
	wait_for -t 15 has_det /tmp/eicar.com "$id"
	settle
	assert_eq "$(dets /tmp/eicar.com "$id")" "[[\"$EICAR_SIG\",\"catch_up\",$id]]"
}

# ------------------------------------------------- exclusions by the host's path

@test "mount namespace: a writable directory bound onto /proc there does not make its files excluded: the detection names the host's path" {
	ns_policy
	scan_start --real-host
	ns_run "mount --bind $W/bind /proc && cat >/proc/eicar.com" "$DEFS/eicar.com"
	wait_for has_det "$W/bind/eicar.com" ""
	settle
	assert_eq "$(dets "$W/bind/eicar.com" "")" "[[\"$EICAR_SIG\",\"close_write\",\"host\"]]"
	assert_eq "$(ns_dets "$NS_ID")" "[]" "detections named in the namespace"
	assert_eq "$(fs 'f["excluded"]')" 0
}

@test "mount namespace: the same under /sys/kernel and under picketd's own state directory" {
	ns_policy
	scan_start --real-host
	install -d -m 0777 "$W/bind2"
	ns_run "mount --bind $W/bind /sys/kernel && mount --bind $W/bind2 $STATE &&
		cat >/sys/kernel/a.com && cp /sys/kernel/a.com $STATE/b.com" "$DEFS/eicar.com"
	wait_for has_det "$W/bind2/b.com" ""
	wait_for has_det "$W/bind/a.com" ""
	settle
	assert_eq "$(dets "$W/bind/a.com" "")$(dets "$W/bind2/b.com" "")" \
		"[[\"$EICAR_SIG\",\"close_write\",\"host\"]][[\"$EICAR_SIG\",\"close_write\",\"host\"]]"
	assert_eq "$(fs '[f["excluded"], f["ignored_self"]]')" "[0,0]"
}

@test "mount namespace: executing a detected file from a directory bound onto /proc is blocked" {
	ns_policy 'on_execute = "block";'
	scan_start --real-host
	ns_run "cat >$W/bind/eicar.com && chmod 0755 $W/bind/eicar.com && mount --bind $W/bind /proc &&
		$PYTHON -c '
import errno, os
try:
    os.execv(\"/proc/eicar.com\", [\"/proc/eicar.com\"])
except OSError as e:
    print(errno.errorcode[e.errno])
'" "$DEFS/eicar.com"
	assert_eq "$NS_OUT" EPERM "the execution"
	wait_for has_det "$W/bind/eicar.com" ""
	assert_eq "$(sev "[(e['path'], e.get('mount_namespace', 'host')) for e in of('exec_blocked')]")" \
		"[[\"$W/bind/eicar.com\",\"host\"]]"
}

@test "mount namespace: a program bound over an excluded executable's path there is not excluded" {
	ns_policy "" "process_exclusions = [ \"/usr/bin/cat\" ];"
	scan_start --real-host
	# The host's cat is excluded: its writes are not scanned.
	cat "$DEFS/eicar.com" >"$W/by-cat.com"
	# In the namespace, /usr/bin/cat is a copy of cp.
	ns_run "cp /usr/bin/cp $W/bind/cp && mount --bind $W/bind/cp /usr/bin/cat &&
		/usr/bin/cat /dev/stdin $W/bind/by-fake-cat.com" "$DEFS/eicar.com"
	wait_for has_det "$W/bind/by-fake-cat.com" ""
	settle
	assert_eq "$(sev "[e['process']['exe'] for e in of('detection') if e['path'] == '$W/bind/by-fake-cat.com']")" \
		'["/usr/bin/cat"]' "the detection's process"
	assert_eq "$(dets "$W/by-cat.com" "")" "[]" "the host's cat, excluded"
}

# ------------------------------------------------------------------- the race

@test "a filesystem the host mounts while picketd runs, a file in it already or written at once: each is one detection" {
	mkdir -p "$T/late" "$T/late2" "$T/stage"
	INCLUDE="\"$W\", \"$T/late\", \"$T/late2\"" ns_policy
	scan_start
	# A tmpfs not watched, a file in it, then bound where it is watched.
	mount -t tmpfs mntns-e2e-stage "$T/stage"
	MOUNTS+=("$T/stage")
	cp "$DEFS/eicar.com" "$T/stage/before.com"
	mount --bind "$T/stage" "$T/late"
	MOUNTS=("$T/late" "${MOUNTS[@]}")
	# One program: the file is written and closed as soon as mount returns.
	"$PYTHON" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"mntns-e2e-late", sys.argv[1].encode(), b"tmpfs", 0, None) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
fd = os.open(sys.argv[1] + "/at-once.com", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, sys.stdin.buffer.read())
os.close(fd)
' "$T/late2" <"$DEFS/eicar.com"
	MOUNTS=("$T/late2" "${MOUNTS[@]}")
	cmp "$DEFS/eicar.com" "$T/late2/at-once.com"
	# Marked through its first mount: the file is named as the host sees it there.
	wait_for has_det "$T/stage/before.com" ""
	wait_for has_det "$T/late2/at-once.com" ""
	settle
	assert_eq "$(dets "$T/stage/before.com" "")" "[[\"$EICAR_SIG\",\"catch_up\",\"host\"]]"
	assert_eq "$(dets "$T/late/before.com" "")" "[]"
	assert_eq "$(dets "$T/late2/at-once.com" "" | jpy 'len(d)')" 1 "detections"
}
