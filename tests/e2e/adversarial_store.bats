#!/usr/bin/env bats
# Attacks on the stores (issue 12, items 5 and 7): a quarantined file must
# not be restored anywhere but the directory it was taken from, and never
# set-uid; a definitions install never opens what is not a regular file,
# never reads kernel interface files, and has libclamav check containers as
# the scan user in a sandbox, not as root.

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

# opens_during PATH... -- CMD...: runs CMD (output to $T/cmd.out, exit
# status to $T/cmd.rc) and prints how many times each PATH was opened or
# read while it ran (inotify IN_OPEN, IN_ACCESS), space-separated.
opens_during() {
	local paths=()
	while [ "$1" != -- ]; do
		paths+=("$1")
		shift
	done
	shift
	"$PYTHON" - "$T/cmd.out" "$T/cmd.rc" "${#paths[@]}" "${paths[@]}" "$@" <<'EOF'
import ctypes, os, subprocess, struct, sys
out, rc, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
paths, cmd = sys.argv[4:4 + n], sys.argv[4 + n:]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
wds = []
for p in paths:
    wd = libc.inotify_add_watch(fd, p.encode(), 0x20 | 0x1)
    if wd < 0:
        sys.exit("inotify_add_watch %s: errno %d" % (p, ctypes.get_errno()))
    wds.append(wd)
with open(out, "wb") as f:
    r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
with open(rc, "w") as f:
    f.write("%d\n" % r.returncode)
seen = {wd: 0 for wd in wds}
try:
    buf = os.read(fd, 65536)
except BlockingIOError:
    buf = b""
i = 0
while i < len(buf):
    wd, mask, cookie, ln = struct.unpack_from("iIII", buf, i)
    seen[wd] = seen.get(wd, 0) + 1
    i += 16 + ln
print(" ".join(str(seen[wd]) for wd in wds))
EOF
}

# raw_request JSON: sends one request line to picketd's socket, prints the
# reply's last line (a scan's progress lines come first).
raw_request() {
	"$PYTHON" - "$RUN/picketd.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
for line in s.makefile("r"):
    if "ok" in json.loads(line):
        print(line.strip())
        break
EOF
}

# ----------------------------------------------------------- quarantine

@test "quarantine: a file planted through another mount namespace is never restored onto the host" {
	# The administrator scans a namespace's files through /proc/PID/root,
	# which the default path exclusions leave out.
	scan_policy --scan 'allow_unsigned_defs = true; action = "quarantine";' 'path_exclusions = [ ];'
	scan_start
	mkdir -p "$T/victim"
	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$T/victim/passwd"
	cp "$T/victim/passwd" "$T/passwd.orig"
	cp "$DEFS/eicar.com" "$T/eicar.com"
	chmod 0644 "$T/eicar.com"
	# An unprivileged user's own user and mount namespace: a tmpfs over
	# $T/victim there, with EICAR as "passwd" and as a name the host lacks.
	bg setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Urm sh -c \
		"mount -t tmpfs none '$T/victim' && cp '$T/eicar.com' '$T/victim/passwd' &&
		cp '$T/eicar.com' '$T/victim/new-file' && exec sleep 600"
	ns=/proc/$BG_PID/root$T/victim
	wait_for test -s "$ns/new-file"
	[ "$(stat -c %d "$ns")" != "$(stat -c %d "$T/victim")" ] || fail "no tmpfs in the namespace"

	# picketctl would resolve /proc/PID/root away; the member of the admin
	# group talks to the socket itself.
	reply=$(raw_request "{\"cmd\":\"scan\",\"paths\":[\"$ns\"]}")
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"]]' <<<"$reply")" '[2,2]' "files, infected"
	qp=$(sev "[e['qid'] for e in of('detection') if e['path'] == '$ns/passwd'][0]")
	qn=$(sev "[e['qid'] for e in of('detection') if e['path'] == '$ns/new-file'][0]")
	[ ! -e "$ns/passwd" ] || fail "the namespace's file is still there"

	run -1 ctl quarantine restore --force "$qp"
	assert_eq "$output" "picketctl: $qp: Invalid cross-device link"
	run -1 ctl quarantine restore "$qn"
	assert_eq "$output" "picketctl: $qn: Invalid cross-device link"
	cmp "$T/victim/passwd" "$T/passwd.orig"
	[ ! -e "$T/victim/new-file" ] || fail "restore created $T/victim/new-file on the host"
	assert_eq "$(ls -A "$T/victim")" passwd "the host's directory"
	grep -q "quarantine: not restoring $qp to $T/victim/passwd: it was taken from another directory than this host's $T/victim (another mount namespace)" "$DLOG" ||
		fail "no log line for the refusal"
	# Still in the store, for the administrator to look at or delete; the
	# kernel named the file by the namespace's view, the host's path.
	run -0 ctl --json quarantine list
	assert_eq "$(jpy "sorted((x['original_path'], x['path_on_host']) for x in d['items'])" <<<"$output")" \
		"[[\"$T/victim/new-file\",false],[\"$T/victim/passwd\",false]]" "original_path, path_on_host"
}

@test "quarantine: a set-uid, set-gid file comes back without those bits" {
	scan_start
	mkdir -p "$T/files"
	f=$T/files/suid.com
	cp "$DEFS/eicar.com" "$f"
	chown 1234:5678 "$f"
	chmod 06755 "$f"
	run -1 ctl scan "$f"
	qid=$(slast detection | jpy 'd["qid"]')
	run -0 ctl --json quarantine list
	assert_eq "$(jpy '"%o" % d["items"][0]["mode"]' <<<"$output")" 6755 "the recorded mode"
	run -0 ctl quarantine restore "$qid"
	cmp "$f" "$DEFS/eicar.com"
	assert_eq "$(stat -c '%u:%g %a' "$f")" "1234:5678 755" "owner and mode of the restored file"
	grep -q "quarantine: restored $f without its set-uid, set-gid and sticky bits (mode 0755, was 6755)" "$DLOG" ||
		fail "no log line for the dropped bits"
}

# ---------------------------------------------------------- definitions

@test "defs install: a FIFO is refused at once and never opened" {
	start_scan_picketd
	mkdir -p "$T/in"
	mkfifo "$T/in/daily.cvd"
	t0=$(_now_us)
	counts=$(opens_during "$T/in/daily.cvd" -- timeout 10 "$PICKETCTL" --run-dir "$RUN" defs install "$T/in/daily.cvd")
	t1=$(_now_us)
	assert_eq "$counts" 0 "opens and reads of the FIFO"
	assert_eq "$(cat "$T/cmd.rc")" 1 "exit status of defs install"
	assert_eq "$(head -1 "$T/cmd.out")" "daily.cvd: rejected: not a regular file: a FIFO"
	[ $((t1 - t0)) -lt 5000000 ] || fail "defs install took $(((t1 - t0) / 1000)) ms"
	assert_eq "$(slast defs_rejected | jpy 'd["reason"]')" "not a regular file: a FIFO"
}

@test "defs install: devices are refused without being opened" {
	start_scan_picketd
	mkdir -p "$T/in"
	mknod "$T/in/zero.cvd" c 1 5
	mknod "$T/in/loop.cvd" b 7 0
	counts=$(opens_during "$T/in/zero.cvd" "$T/in/loop.cvd" -- "$PICKETCTL" --run-dir "$RUN" defs install \
		"$T/in/zero.cvd" "$T/in/loop.cvd")
	assert_eq "$counts" "0 0" "opens and reads of the device nodes"
	assert_eq "$(cat "$T/cmd.rc")" 1 "exit status of defs install"
	assert_eq "$(sed -n 1,2p "$T/cmd.out")" "zero.cvd: rejected: not a regular file: a character device
loop.cvd: rejected: not a regular file: a block device"
	run -1 ctl defs install /dev/zero
	assert_eq "${lines[0]}" "zero: rejected: not a regular file: a character device"
}

@test "defs install: kernel interface files and files over the size limit are refused unread" {
	start_scan_picketd
	truncate -s $((2 * 1024 * 1024 * 1024 + 1)) "$T/big.cvd"
	counts=$(opens_during "$T/big.cvd" -- "$PICKETCTL" --run-dir "$RUN" defs install "$T/big.cvd")
	assert_eq "$counts" 0 "opens and reads of the large file"
	assert_eq "$(head -1 "$T/cmd.out")" "big.cvd: rejected: larger than the 2 GiB limit"
	# Reading some of these blocks or consumes what it reads (/proc/kmsg).
	run -1 ctl defs install /proc/sys/kernel/osrelease /sys/kernel/uevent_seqnum
	assert_eq "${lines[0]}" "osrelease: rejected: on proc, a kernel interface filesystem"
	assert_eq "${lines[1]}" "uevent_seqnum: rejected: on sysfs, a kernel interface filesystem"
}

@test "defs install: libclamav checks a .cvd as the scan user, with no_new_privs and seccomp" {
	start_scan_picketd -v
	mkdir -p "$T/in"
	# The test definitions under a signed name: libclamav looks for the signature.
	cp "$DEFS/picket.cud" "$T/in/picket.cvd"
	run -1 ctl defs install "$T/in/picket.cvd"
	assert_eq "${lines[0]}" "picket.cvd: rejected: libclamav refused the container: Can't verify database integrity (cli_decodesig: Resulting signature too large (128 vs 16).)"
	grep -q "cvd: picket.cvd: libclamav checked it as uid $(scan_uid) gid $(scan_gid) (no_new_privs, seccomp): Can't verify database integrity" "$DLOG" ||
		fail "no log line of the check's ids" "$(grep 'cvd:' "$DLOG")"
	[ "$(scan_uid)" != 0 ]
}
