#!/usr/bin/env bats
# Attacks on the file monitor and the verdict cache, performed as a user
# would (issue 12): a file written and executed under a path longer than
# PATH_MAX; a file changed through a shared writable mapping after a clean
# verdict, on tmpfs and on ext4; a FUSE filesystem whose open() never
# answers.  Each asserts, with exact values, that the attack fails.

load scan_helpers

HANGFS=$PICKET_BUILD/tests/fuse/picket-hangfs
# The attacker.
USER_=nobody
GROUP_=nogroup

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=0755 fsmon-adv "$W"
	MOUNTS+=("$W")
	install -d -o "$USER_" -g "$GROUP_" -m 0755 "$W/user"
	# The test file where the attacker can read it.
	EICAR=$T/eicar.com
	install -m 0644 "$DEFS/eicar.com" "$EICAR"
	FUSE_PID=
	LOOP_IMG=
}

teardown() {
	fuse_release
	e2e_teardown
	if [ -n "$LOOP_IMG" ]; then
		rm -f "$LOOP_IMG"
	fi
}

# as_user CMD...: CMD as the attacker, without root's groups.
as_user() {
	setpriv --reuid="$USER_" --regid="$GROUP_" --clear-groups "$@"
}

# fs_policy FILE_MONITOR_SETTINGS [LINE...]: the scan test policy with the
# file and process monitors on and a file_monitor group.
fs_policy() {
	local fm=$1
	shift
	scan_policy "monitor_file_copies_moves = true;" "monitor_process_execution = true;" \
		"device_flow_correlation = false;" "file_monitor = { $fm };" "$@"
}

# fs EXPR: EXPR in Python on f = the file monitor's status.
fs() {
	local out
	out=$(ctl --json status) || fail "picketctl --json status failed: $out" || return
	jpy "(lambda f: $1)(d['monitors']['file'])" <<<"$out"
}

fs_idle() {
	[ "$(fs '(f["queued"], f["perm_pending"])')" = "[0,0]" ]
}

settle() {
	wait_for fs_idle && sleep 0.3 && wait_for fs_idle
}

# nev TYPE [PATH]: how many events of TYPE (about PATH).
nev() {
	sev "len([e for e in of('$1') if '${2-}' in ('', e.get('path'))])"
}

fs_is() {
	[ "$(fs "$1")" = "$2" ]
}

nev_is() {
	[ "$(nev "$1" "$2")" = "$3" ]
}

has_ev() {
	[ "$(nev "$@")" -gt 0 ]
}

# run_exec FILE: execve(FILE) from Python as the attacker; EXEC_OUT is the
# errno's name ("" when the program ran).
run_exec() {
	as_user "$PYTHON" -c '
import errno, os, sys
try:
    os.execv(sys.argv[1], [sys.argv[1]])
except OSError as e:
    print(errno.errorcode[e.errno])
    sys.exit(1)
' "$1" >"$T/exec.out" 2>&1 || true
	EXEC_OUT=$(cat "$T/exec.out")
}

# ms_of CMD...: runs CMD (killed after 5 s), prints how long it took in
# milliseconds.
ms_of() {
	local t0 t1
	t0=$(_now_us)
	timeout -s KILL 5 "$@" >/dev/null 2>&1
	t1=$(_now_us)
	echo $(((t1 - t0) / 1000))
}

# ------------------------------------------------------------------ FUSE

# fuse_release: the hanging filesystem answers (EIO) and goes; whatever
# waited on it (picketd too, before the fix) is released.
fuse_release() {
	[ -n "$FUSE_PID" ] || return 0
	touch "$T/fuse.stop"
	sleep 0.2
	kill -TERM "$FUSE_PID" 2>/dev/null || true
	wait "$FUSE_PID" 2>/dev/null || true
	FUSE_PID=
	fusermount3 -u -z "$FUSE_AT" 2>/dev/null || umount -l "$FUSE_AT" 2>/dev/null || true
}

# fuse_mount MOUNTPOINT [--stat]: picket-hangfs on MOUNTPOINT (the
# attacker's directory or file), mounted by the attacker when this machine
# lets unprivileged users mount FUSE (/dev/fuse open to them, fusermount3
# setuid), else by root; FUSE_BY says which.  --stat: a stat of its root
# does not answer either.
fuse_mount() {
	[ -x "$HANGFS" ] || skip "picket-hangfs was not built (libfuse3-dev missing)"
	command -v fusermount3 >/dev/null || skip "fusermount3 (package fuse3) missing"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	local opt=()
	[ "${2-}" != --stat ] || opt=(--stat)
	FUSE_AT=$1
	if as_user sh -c 'exec 3<>/dev/fuse' 2>/dev/null && [ -u "$(command -v fusermount3)" ]; then
		FUSE_BY=$USER_
		as_user "$HANGFS" "${opt[@]}" "$T/fuse.stop" "$FUSE_AT" -f 3>&- &
	else
		FUSE_BY=root
		"$HANGFS" "${opt[@]}" "$T/fuse.stop" "$FUSE_AT" -f -o allow_other 3>&- &
	fi
	FUSE_PID=$!
	wait_for findmnt -n "$FUSE_AT"
	echo "# picket-hangfs mounted by $FUSE_BY" >&3
}

@test "FUSE: a mount whose open() never answers gets no mark; picketd and executions do not wait" {
	install -d -o "$USER_" -g "$GROUP_" -m 0755 "$T/fuse"
	# Named in mounts_include, mounted by the attacker while picketd runs:
	# never marked, never opened.
	fs_policy "mounts_include = [ \"$W\", \"$T/fuse\" ]; on_execute = \"block\";"
	scan_start
	assert_eq "$(fs '[u["mount"] for u in f["unmarked"]]')" "[\"$T/fuse\"]"
	fuse_mount "$T/fuse"
	assert_match "$(findmnt -n -o FSTYPE "$T/fuse")" "^fuse"
	# The mount table is read again (the path is a mount point now).
	wait_for fs_is 'f["unmarked"]' "[]"
	assert_eq "$(fs 'f["filesystems"]')" "[\"$W\"]"
	cp /bin/true "$W/true"

	# The attacker creates, writes and closes files there (a close-write
	# the kernel would open for picketd), and opens and executes one (a
	# permission event the kernel would open for picketd's thread).
	as_user touch "$T/fuse/f"
	as_user sh -c 'echo x >"$1"' sh "$T/fuse/g"
	as_user chmod 0755 "$T/fuse/f"
	bg as_user cat "$T/fuse/g"
	bg as_user "$T/fuse/f"

	# Meanwhile picketd answers at once, and executions elsewhere run.
	local ms
	ms=$(ms_of "$PICKETCTL" --run-dir "$RUN" status)
	echo "# picketctl status: $ms ms" >&3
	[ "$ms" -lt 2000 ] || fail "picketctl status took $ms ms"
	ctl status >/dev/null
	ms=$(ms_of "$W/true")
	echo "# $W/true: $ms ms" >&3
	[ "$ms" -lt 1000 ] || fail "$W/true took $ms ms"
	"$W/true"
	sleep 0.5
	ms=$(ms_of "$PICKETCTL" --run-dir "$RUN" status)
	[ "$ms" -lt 2000 ] || fail "picketctl status took $ms ms"
	assert_eq "$(fs '[f["events"]["close_write"], f["events"]["open_exec"] >= 1, f["perm_timeouts"]]')" \
		"[1,true,0]"
	fuse_release
}

@test "FUSE: a filesystem mounted over a file just moved into place is never asked anything" {
	fs_policy "mounts_include = [ \"$W\" ];"
	scan_start
	# The attacker's copy and move wait in the kernel's queues while
	# picketd is held, and a FUSE filesystem whose stat never answers is
	# mounted over the moved file before picketd reads them.
	kill -STOP "$PICKETD_PID"
	as_user cp "$EICAR" "$W/user/a"
	as_user mv "$W/user/a" "$W/user/b"
	fuse_mount "$W/user/b" --stat
	kill -CONT "$PICKETD_PID"
	local ms
	ms=$(ms_of "$PICKETCTL" --run-dir "$RUN" status)
	echo "# picketctl status: $ms ms" >&3
	[ "$ms" -lt 2000 ] || fail "picketctl status took $ms ms"
	# The copy's close-write (by its descriptor) is the one detection; the
	# move's name now leads into the FUSE mount and is left alone.
	wait_for has_ev detection
	settle
	assert_eq "$(sev "[(e['path'], e['trigger']) for e in of('detection')]")" \
		"[[\"$W/user/b\",\"close_write\"]]"
	# a's create finds nothing any more, b's move a mount: both vanished.
	assert_eq "$(fs '[f["events"]["close_write"], f["events"]["create"], f["events"]["moved_to"], f["vanished"]]')" \
		"[1,1,1,2]"
	fuse_release
}

# ------------------------------------------------------------- long paths

# deep OP ARGS...: as the attacker, in a chain of 17 directories of 250
# characters below $W/user (a path of about 4,300 bytes, past PATH_MAX),
# reached one directory at a time:
#   deep path               prints the chain's full path
#   deep write NAME SRC     copies SRC to NAME there (mode 0755), then waits
#                           until $T/writer.stop exists (the writer stays)
#   deep move SRC NAME      renames SRC (a short path) to NAME there
#   deep exec NAME          execve("./NAME") there; prints the errno's name
deep() {
	as_user "$PYTHON" -c '
import errno, os, sys, time
base, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
os.chdir(base)
for i in range(17):
    d = chr(ord("a") + i) * 250
    if not os.path.isdir(d):
        os.mkdir(d)
    os.chdir(d)
full = base + "".join("/" + chr(ord("a") + i) * 250 for i in range(17))
if op == "path":
    print(full)
elif op == "write":
    data = open(args[1], "rb").read()
    fd = os.open(args[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, data)
    os.close(fd)
    while not os.path.exists(sys.argv[-1]):
        time.sleep(0.05)
elif op == "move":
    os.rename(args[0], args[1])
elif op == "exec":
    try:
        os.execv("./" + args[0], ["./" + args[0]])
    except OSError as e:
        print(errno.errorcode[e.errno])
' "$W/user" "$@" "$T/writer.stop"
}

# tail_of PATH FULL: true when PATH is "…" and the end of FULL, cut at a
# "/", and fits in PATH_MAX.
tail_of() {
	"$PYTHON" -c '
import sys
p, full = sys.argv[1], sys.argv[2]
ok = p.startswith("\u2026/") and full.endswith(p[1:]) and len(p.encode()) < 4096
sys.exit(0 if ok else 1)
' "$1" "$2"
}

@test "long paths: a file written past PATH_MAX is scanned; the detection names the path's end, path_complete false" {
	fs_policy "mounts_include = [ \"$W\" ];"
	scan_start
	local full
	full=$(deep path)
	[ "${#full}" -gt 4200 ] || fail "the path is only ${#full} bytes"
	echo "# path: ${#full} bytes" >&3
	bg deep write eicar.com "$EICAR"
	wait_for has_ev detection
	touch "$T/writer.stop"
	settle
	assert_eq "$(nev detection)" 1 "detection events"
	assert_eq "$(sev "[(e['signature'], e['trigger'], e['path_complete'], e['inode'] > 0) for e in of('detection')]")" \
		"[[\"$EICAR_SIG\",\"close_write\",false,true]]"
	local p
	p=$(sev "of('detection')[0]['path']")
	tail_of "$p" "$full/eicar.com" || fail "not the end of the path: $p"
	assert_eq "$(fs '[f["vanished"], f["scanned"], f["detected"]]')" "[0,1,1]"
}

@test "long paths: a file moved into place past PATH_MAX is scanned (moved_to)" {
	install -d -o "$USER_" -g "$GROUP_" "$W/user/incoming"
	# Copied where the kernel drops it (an ignore mark), then moved.
	fs_policy "mounts_include = [ \"$W\" ];" "path_exclusions = [ \"$W/user/incoming\" ];"
	scan_start
	local full
	full=$(deep path)
	as_user cp "$EICAR" "$W/user/incoming/e.com"
	deep move "$W/user/incoming/e.com" moved.com
	wait_for has_ev detection
	settle
	assert_eq "$(sev "[(e['signature'], e['trigger'], e['path_complete']) for e in of('detection')]")" \
		"[[\"$EICAR_SIG\",\"moved_to\",false]]"
	local p
	p=$(sev "of('detection')[0]['path']")
	tail_of "$p" "$full/moved.com" || fail "not the end of the path: $p"
}

@test "long paths: on_execute block refuses a detected file executed past PATH_MAX; a clean one runs" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	scan_start
	local full
	full=$(deep path)
	touch "$T/writer.stop"
	deep write bad "$EICAR"
	deep write true /bin/true
	wait_for has_ev detection
	settle
	# An execution is decided by a scan only while the service is ready.
	wait_ready
	run -0 deep exec true
	assert_eq "$output" ""
	run deep exec bad
	assert_eq "$output" EPERM
	wait_for has_ev exec_blocked
	assert_eq "$(sev "[(e['signature'], e['path_complete']) for e in of('exec_blocked')]")" \
		"[[\"$EICAR_SIG\",false]]"
	local p
	p=$(sev "of('exec_blocked')[0]['path']")
	tail_of "$p" "$full/bad" || fail "not the end of the path: $p"
	assert_eq "$(fs '[f["perm_denied"], f["perm_timeouts"]]')" "[1,0]"
}

# ------------------------------------------ writes through a shared mapping

# ext4_mount DIR: an ext4 image on a loop device at DIR, removed in
# teardown; DIR/user belongs to the attacker.
ext4_mount() {
	LOOP_IMG=$T/ext4.img
	truncate -s 64M "$LOOP_IMG"
	mkfs.ext4 -q -F "$LOOP_IMG"
	mkdir -p "$1"
	mount -o loop "$LOOP_IMG" "$1"
	MOUNTS=("$1" "${MOUNTS[@]}")
	install -d -o "$USER_" -g "$GROUP_" -m 0755 "$1/user"
}

# mapper FILE: as the attacker, in the background: writes FILE (4096
# bytes of "A"), maps it shared and writable, closes the descriptor, writes
# one byte through the mapping, then touches $T/sig/mapped; once
# $T/sig/go exists, writes the EICAR string through the same mapping (the
# page is dirty and writable: no fault) and touches $T/sig/changed; keeps
# the mapping until $T/sig/stop exists.
mapper() {
	install -d -o "$USER_" -g "$GROUP_" "$T/sig"
	bg as_user "$PYTHON" -c '
import mmap, os, sys, time
path, sig, eicar = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
def wait(name):
    while not os.path.exists(os.path.join(sig, name)):
        time.sleep(0.02)
def say(name):
    open(os.path.join(sig, name), "w").close()
with open(path, "wb") as f:
    f.write(b"A" * 4096)
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
m[0:1] = b"B"
say("mapped")
wait("go")
m[100:100 + len(eicar)] = eicar
say("changed")
wait("stop")
' "$1" "$T/sig" "$EICAR"
}

# remap FILE: as the attacker: maps FILE shared and writable, reads a byte
# (a read fault), writes the EICAR string through the mapping, unmaps it
# and exits.
remap() {
	as_user "$PYTHON" -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
_ = m[0]
eicar = open(sys.argv[2], "rb").read()
m[100:100 + len(eicar)] = eicar
m.close()
' "$1" "$EICAR"
}

# infected PATH: picketctl scan PATH's count of infected files.
infected() {
	local out
	out=$(ctl --json scan "$1" 2>/dev/null | tail -n 1)
	jpy 'd["summary"]["infected"]' <<<"$out"
}

stamp() {
	stat -c '%Z.%z %s' "$1"
}

@test "mapped writes: a file changed through a mapping still held after a clean verdict is found (tmpfs, ext4)" {
	ext4_mount "$T/ext4"
	scan_policy
	scan_start
	local fs dir f before hits got=()
	for fs in tmpfs ext4; do
		dir=$W/user
		[ "$fs" = tmpfs ] || dir=$T/ext4/user
		f=$dir/mapped
		rm -rf "$T/sig"
		mapper "$f"
		wait_for test -e "$T/sig/mapped"
		assert_eq "$(infected "$f")" 0 "infected in $f, clean"
		before=$(stamp "$f")
		hits=$(scanner 's["cache_hits"]')
		touch "$T/sig/go"
		wait_for test -e "$T/sig/changed"
		# The kernel moved neither ctime nor size: the cache key is the same.
		assert_eq "$(stamp "$f")" "$before" "ctime and size of $f"
		got+=("$fs: $(infected "$f") infected, $(($(scanner 's["cache_hits"]') - hits)) cache hits")
		touch "$T/sig/stop"
	done
	assert_eq "${got[*]}" "tmpfs: 1 infected, 0 cache hits ext4: 1 infected, 0 cache hits"
}

@test "mapped writes: on tmpfs a write through a new mapping moves no ctime; the file is scanned again" {
	scan_policy
	scan_start
	local f=$W/user/remapped before
	as_user sh -c 'head -c 4096 /dev/zero | tr "\0" A >"$1"' sh "$f"
	assert_eq "$(infected "$f")" 0 "clean"
	before=$(stamp "$f")
	remap "$f"
	assert_eq "$(stamp "$f")" "$before" "ctime and size"
	assert_eq "$(infected "$f")" 1 "infected after the write through the mapping"
}

@test "mapped writes: on_execute block refuses a file changed through a mapping after a clean verdict (tmpfs)" {
	fs_policy "mounts_include = [ \"$W\" ]; on_execute = \"block\";"
	scan_start
	local f=$W/user/prog
	as_user sh -c 'head -c 4096 /dev/zero | tr "\0" A >"$1"; chmod 0755 "$1"' sh "$f"
	# Clean: allowed (the kernel then refuses a file that is no program).
	run_exec "$f"
	assert_eq "$EXEC_OUT" ENOEXEC
	settle
	remap "$f"
	# The write through the mapping ends with a close-write: scanned.
	wait_for has_ev detection "$f"
	wait_ready
	run_exec "$f"
	assert_eq "$EXEC_OUT" EPERM
	wait_for has_ev exec_blocked "$f"
	# Each scanned: tmpfs is not trusted to tell a change (scanq.h).
	assert_eq "$(sev "[(e['trigger'], e['signature']) for e in of('detection')]")" \
		"[[\"close_write\",\"$EICAR_SIG\"],[\"exec\",\"$EICAR_SIG\"]]"
	assert_eq "$(sev "[e['cached'] for e in of('exec_blocked')]")" "[false]"
}

@test "verdict cache: on ext4 an unchanged file is answered from the cache, not while someone holds it open for writing" {
	ext4_mount "$T/ext4"
	fs_policy "mounts_include = [ \"$T/ext4\" ]; on_execute = \"block\";"
	scan_start
	local f=$T/ext4/user/plain hits
	# Its close-write's verdict answers both executions.
	as_user "$PYTHON" -c 'import os, sys
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o755)
os.write(fd, open(sys.argv[1], "rb").read())
os.close(fd)' "$EICAR" "$T/ext4/user/bad"
	wait_for has_ev detection "$T/ext4/user/bad"
	settle
	run_exec "$T/ext4/user/bad"
	assert_eq "$EXEC_OUT" EPERM
	run_exec "$T/ext4/user/bad"
	assert_eq "$EXEC_OUT" EPERM
	wait_for nev_is exec_blocked "$T/ext4/user/bad" 2
	assert_eq "$(sev "[e['cached'] for e in of('exec_blocked')]")" "[true,true]"
	settle
	as_user sh -c 'echo clean >"$1"' sh "$f"
	assert_eq "$(infected "$f")" 0
	hits=$(scanner 's["cache_hits"]')
	assert_eq "$(infected "$f")" 0
	assert_eq "$(scanner 's["cache_hits"]')" "$((hits + 1))" "cache hits"
	# A writer holds it open (it could map it): scanned each time.
	bg as_user sh -c 'exec 3>>"$1"; sleep 60' sh "$f"
	sleep 0.3
	assert_eq "$(infected "$f")" 0
	assert_eq "$(infected "$f")" 0
	assert_eq "$(scanner 's["cache_hits"]')" "$((hits + 1))" "cache hits with a writer"
}
