#!/usr/bin/env bats
# Attacks on the stores (issue 12, items 5 and 7): a quarantined file must
# not be restored anywhere but the directory it was taken from, and never
# set-uid.

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
