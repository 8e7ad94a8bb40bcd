#!/usr/bin/env bats
# Attacks on picketd through its control socket by an unprivileged member of
# the admin group (a test user, $MEMBER): it must not make picketd read,
# copy, move or delete what it could not itself (scan, defs install,
# quarantine), send the requests the policy does not grant it, lock root out
# with idle connections, or keep its event stream once out of the group.

load scan_helpers

MEMBER=picket-e2e-member
ADMIN=picket-e2e-ctl
NO_GROUP=picket-e2e-nogroup

setup_file() {
	scan_setup_file
	userdel "$MEMBER" 2>/dev/null || true
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$MEMBER"
}

teardown_file() {
	userdel "$MEMBER" 2>/dev/null || true
	scan_teardown_file
}

setup() {
	e2e_setup
	groupdel "$ADMIN" 2>/dev/null || true
	! getent group "$NO_GROUP" >/dev/null || fail "group $NO_GROUP exists on this host"
	groupadd --system "$ADMIN"
	GROUPS_ADDED+=("$ADMIN")
	gpasswd -a "$MEMBER" "$ADMIN" >/dev/null
	MUID=$(id -u "$MEMBER")
	member_policy
}

# member_policy [--scan SETTINGS] [LINE...]: scan_policy with admin_group = $ADMIN.
member_policy() {
	local scan="allow_unsigned_defs = true;"
	if [ "${1-}" = --scan ]; then
		scan=$2
		shift 2
	fi
	scan_policy --scan "$scan" "admin_group = \"$ADMIN\";" "$@"
}

# CMD as $MEMBER with the groups the group database gives it; the array
# runs a background command as one process (its pid is $!).
AS_MEMBER=(setpriv --reuid="$MEMBER" --regid="$MEMBER" --init-groups)
as_member() {
	"${AS_MEMBER[@]}" "$@"
}

mctl() {
	as_member "$PICKETCTL" --run-dir "$RUN" "$@"
}

# eicar_file PATH OWNER MODE
eicar_file() {
	cp "$DEFS/eicar.com" "$1"
	chown "$2" "$1"
	chmod "$3" "$1"
}

# --------------------------------------------------------------- item 6

@test "adversarial control: a member's scan of files it cannot read is a permission error, never a scan" {
	scan_start
	eicar_file "$T/secret.com" root:root 0600
	mkdir -m 0755 "$T/tree"
	mkdir -m 0700 "$T/tree/private"
	eicar_file "$T/tree/private/eicar.com" root:root 0644
	eicar_file "$T/tree/public.com" root:root 0644
	scans=$(scanner 's["scans"]')

	run --separate-stderr mctl --json scan "$T/secret.com" /etc/shadow "$T/tree"
	assert_eq "$status" 1 "exit status (public.com is infected)" || { echo "$output $stderr"; false; }
	last=${lines[-1]}
	assert_eq "$(jpy '[d["summary"][k] for k in ("files", "infected", "errors", "skipped")]' <<<"$last")" \
		'[1,1,3,0]' "files, infected, errors, skipped"
	assert_eq "$(jpy 'sorted("%s: %s" % (f["path"], f["error"]) for f in d["failures"])' <<<"$last")" \
		"[\"/etc/shadow: Permission denied\",\"$T/secret.com: Permission denied\",\"$T/tree/private: Permission denied\"]" "failures"
	assert_eq "$(jpy '[(x["path"], x["signature"]) for x in d["detections"]]' <<<"$last")" \
		"[[\"$T/tree/public.com\",\"$EICAR_SIG\"]]" "detections"
	# Only the file it could read reached the scan service, and was detected.
	assert_eq "$(($(scanner 's["scans"]') - scans))" 1 "files scanned"
	assert_eq "$(sev "[e['path'] for e in of('detection')]")" "[\"$T/tree/public.com\"]" "detection events"

	# Root keeps its reach.
	run --separate-stderr ctl --json scan "$T/secret.com" "$T/tree"
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"]]' <<<"${lines[-1]}")" \
		'[3,3,0]' "root's scan: files, infected, errors"
}

@test "adversarial control: a member that kills the walker of its scan ends that scan only" {
	scan_start
	"${AS_MEMBER[@]}" "$PICKETCTL" --run-dir "$RUN" --json scan /usr >"$T/scan.out" 2>&1 &
	scanner=$!
	BG_PIDS+=("$scanner")
	walker() {
		pgrep -P "$PICKETD_PID" -u "$MEMBER"
	}
	wait_for walker
	pid=$(walker)
	assert_eq "$(proc_status "$pid" Uid)" "$MUID $MUID $MUID $MUID" "the walker's uids"
	as_member kill -KILL "$pid"
	wait_for proc_gone "$scanner"
	wait "$scanner" || true
	last=$(tail -n 1 "$T/scan.out")
	assert_eq "$(jpy '[d["ok"], [f for f in d["failures"] if f["path"] == "/usr"]]' <<<"$last")" \
		'[true,[{"path":"/usr","error":"the walk ended before it was done"}]]' "the scan's end"
	assert_contains "$(cat "$DLOG")" "on-demand scan of uid $MUID: the walk ended early"
	run -0 mctl status
	cp /etc/os-release "$T/clean"
	run -0 mctl --json scan "$T/clean"
}

@test "adversarial control: a member's scan quarantines only what it could have removed itself" {
	member_policy --scan 'allow_unsigned_defs = true; action = "quarantine";'
	scan_start
	mkdir -m 0755 "$T/mine" "$T/theirs"
	chown "$MEMBER:" "$T/mine"
	mkdir -m 1777 "$T/sticky"
	eicar_file "$T/mine/own.com" "$MEMBER:" 0644
	eicar_file "$T/mine/roots.com" root:root 0644 # in its own directory: it may remove that
	eicar_file "$T/theirs/roots.com" root:root 0644
	eicar_file "$T/sticky/roots.com" root:root 0644
	eicar_file "$T/sticky/own.com" "$MEMBER:" 0644

	run --separate-stderr mctl --json scan "$T/mine" "$T/theirs" "$T/sticky"
	assert_eq "$status" 1 || { echo "$output $stderr"; false; }
	assert_eq "$(jpy '[d["summary"]["files"], d["summary"]["infected"], d["summary"]["errors"]]' <<<"${lines[-1]}")" \
		'[5,5,0]' "files, infected, errors"
	assert_eq "$(sev "sorted('%s %s %s' % (e['path'], e['action'], e.get('error', '-')) for e in of('detection'))" | jpy '"\n".join(d)')" \
		"$(printf '%s\n' \
			"$T/mine/own.com quarantined -" \
			"$T/mine/roots.com quarantined -" \
			"$T/sticky/own.com quarantined -" \
			"$T/sticky/roots.com quarantine_failed Permission denied" \
			"$T/theirs/roots.com quarantine_failed Permission denied" | LC_ALL=C sort)" "detection events"
	[ ! -e "$T/mine/own.com" ] && [ ! -e "$T/mine/roots.com" ] && [ ! -e "$T/sticky/own.com" ]
	cmp "$T/theirs/roots.com" "$DEFS/eicar.com"
	cmp "$T/sticky/roots.com" "$DEFS/eicar.com"
	assert_eq "$(ctl --json quarantine list | jpy 'len(d["items"])')" 3 "quarantine entries"
}

@test "adversarial control: a member's defs install of files it cannot read is refused and nothing is copied" {
	start_scan_picketd
	mkdir -m 0755 "$T/in"
	cp "$DEFS/picket.cud" "$T/in/picket.cud"
	chmod 0600 "$T/in/picket.cud"

	run -1 mctl --json defs install "$T/in/picket.cud" /etc/shadow
	assert_eq "$(jpy '[d["ok"], d["error"]]' <<<"$output")" \
		'[false,"no definitions were installed: every file was rejected"]' "ok, error"
	assert_eq "$(jpy 'd["files"]' <<<"$output")" \
		'[{"name":"picket.cud","accepted":false,"reason":"cannot open: Permission denied"},{"name":"shadow","accepted":false,"reason":"cannot open: Permission denied"}]' "files"
	assert_eq "$(ls -A "$STATE/defs/rejected")" "" "rejected/"
	assert_eq "$(ls -A "$STATE/defs/sets")" "" "sets/"
	assert_eq "$(sev "[(e['file'], e['reason']) for e in of('defs_rejected')]")" \
		'[["picket.cud","cannot open: Permission denied"],["shadow","cannot open: Permission denied"]]' "defs_rejected events"
	run -1 mctl defs status

	# What it can read, it may install ...
	chmod 0644 "$T/in/picket.cud"
	run -0 mctl defs install "$T/in/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: accepted"
	wait_ready
	# ... and root may install what only root can read.
	mkdir -m 0700 "$T/in/v2"
	cp "$DEFS/v2/picket.cud" "$T/in/v2/picket.cud"
	run -0 ctl defs install "$T/in/v2/picket.cud"
	assert_eq "${lines[0]}" "picket.cud: accepted"
	assert_eq "$(defs_get '[f["version"] for f in d["files"]]')" '[2]' "installed version"
}

@test "adversarial control: requests of a class the policy does not grant get an error, root may all" {
	member_policy "control = { allow_policy = \"$NO_GROUP\"; allow_scan = \"$NO_GROUP\"; allow_quarantine = \"$NO_GROUP\"; allow_defs = \"$NO_GROUP\"; };"
	start_scan_picketd
	cp "$DEFS/picket.cud" "$T/picket.cud"
	for class in policy scan quarantine defs; do
		assert_contains "$(cat "$DLOG")" "Group '$NO_GROUP' of control.allow_$class not found (no such group): $class requests are root's only"
	done
	cp "$DEFS/eicar.com" "$T/eicar.com"

	run -1 mctl policy reload
	assert_eq "$output" "picketctl: permission denied: 'policy_reload' needs root or a member of group '$NO_GROUP' (control.allow_policy)"
	run -1 mctl --json scan "$T/eicar.com"
	assert_eq "$output" "{\"ok\":false,\"error\":\"permission denied: 'scan' needs root or a member of group '$NO_GROUP' (control.allow_scan)\"}"
	run -1 mctl quarantine list
	assert_eq "$output" "picketctl: permission denied: 'quarantine_list' needs root or a member of group '$NO_GROUP' (control.allow_quarantine)"
	run -1 mctl defs install "$T/picket.cud"
	assert_eq "$output" "picketctl: permission denied: 'defs_install' needs root or a member of group '$NO_GROUP' (control.allow_defs)"
	assert_eq "$(scount defs_rejected)$(scount defs_accepted)" 00 "defs events"
	assert_contains "$(cat "$DLOG")" "control: refused 'policy_reload' of pid"
	# What the policy still grants it.
	run -0 mctl status
	run -0 mctl --json policy show
	assert_eq "$(jpy 'd["policy"]["control"]["allow_status"]' <<<"$output")" "$ADMIN"

	# Root may do everything.
	run -0 ctl policy reload
	run -0 ctl defs install "$DEFS/picket.cud"
	wait_ready
	run -1 ctl scan "$T/eicar.com"
	assert_contains "$output" "$T/eicar.com: $EICAR_SIG FOUND"
	run -0 ctl quarantine list
}

@test "adversarial control: a member restores and deletes only its own files, only where it may write" {
	member_policy --scan 'allow_unsigned_defs = true; action = "quarantine";'
	scan_start
	mkdir -m 0755 "$T/mine" "$T/theirs"
	chown "$MEMBER:" "$T/mine"
	eicar_file "$T/theirs/roots.com" root:root 0644
	eicar_file "$T/theirs/own.com" "$MEMBER:" 0644
	eicar_file "$T/mine/own.com" "$MEMBER:" 0640
	eicar_file "$T/mine/setgid.com" "$MEMBER:root" 2755
	run -1 ctl --json scan "$T/theirs" "$T/mine"
	assert_eq "$(jpy 'd["summary"]["infected"]' <<<"${lines[-1]}")" 4
	qid() {
		sev "[e['qid'] for e in of('detection') if e['path'] == '$1'][0]"
	}
	q_roots=$(qid "$T/theirs/roots.com")
	q_theirs=$(qid "$T/theirs/own.com")
	q_mine=$(qid "$T/mine/own.com")
	q_setgid=$(qid "$T/mine/setgid.com")

	run -1 mctl quarantine restore "$q_roots"
	assert_eq "$output" "picketctl: $q_roots: permission denied: uid $MUID may not restore uid 0's file"
	run -1 mctl quarantine delete "$q_roots"
	assert_eq "$output" "picketctl: $q_roots: permission denied: uid $MUID may not delete uid 0's file"
	run -1 mctl quarantine restore "$q_theirs"
	assert_eq "$output" "picketctl: $q_theirs: permission denied: uid $MUID may not create $T/theirs/own.com itself"
	run -1 mctl quarantine delete "$q_theirs"
	assert_eq "$output" "picketctl: $q_theirs: permission denied: uid $MUID may not remove $T/theirs/own.com itself"
	run -1 mctl quarantine restore "$q_setgid"
	assert_eq "$output" "picketctl: $q_setgid: permission denied: the file is set-group-ID to gid 0, which uid $MUID is not in"
	[ ! -e "$T/theirs/roots.com" ] && [ ! -e "$T/theirs/own.com" ] && [ ! -e "$T/mine/setgid.com" ]
	assert_eq "$(ctl --json quarantine list | jpy 'len(d["items"])')" 4 "entries after the refusals"
	assert_eq "$(scount quarantine_restored)$(scount quarantine_deleted)" 00 "restore and delete events"

	# Its own file, in its own directory: back as it was; then one deleted.
	run -0 mctl quarantine restore "$q_mine"
	cmp "$T/mine/own.com" "$DEFS/eicar.com"
	assert_eq "$(stat -c '%U %a' "$T/mine/own.com")" "$MEMBER 640"
	run -0 mctl quarantine delete "$q_setgid"
	# Root may do the rest.
	run -0 ctl quarantine restore "$q_roots"
	run -0 ctl quarantine restore "$q_theirs"
	assert_eq "$(stat -c '%U %a' "$T/theirs/roots.com" "$T/theirs/own.com")" "root 644
$MEMBER 644"
}

# -------------------------------------------------------------- item 11

# hold N: as $MEMBER, opens N connections to the socket (blocking connects)
# and sends nothing; after a second writes "OPEN REFUSED FIRST-REFUSAL" to
# $T/hold/held, then holds the connections until $T/hold/release exists.
hold() {
	install -d -o "$MEMBER" -m 0755 "$T/hold"
	# exec: bg's pid is the holder's, for the teardown to kill.
	exec "${AS_MEMBER[@]}" "$PYTHON" - "$RUN/picketd.sock" "$1" "$T/hold" <<'PY'
import os, select, socket, sys, time
path, n, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
time.sleep(1)
open_, refused, first = 0, 0, ""
for s in conns:
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        open_ += 1
        continue
    data = b""
    while True:
        k = s.recv(4096)
        if not k:
            break
        data += k
    refused += 1
    first = first or data.decode().strip()
with open(t + "/held.tmp", "w") as f:
    f.write("%d %d %s\n" % (open_, refused, first))
os.rename(t + "/held.tmp", t + "/held")
deadline = time.monotonic() + 60
while not os.path.exists(t + "/release") and time.monotonic() < deadline:
    time.sleep(0.1)
PY
}

@test "adversarial control: 80 idle connections of a member do not lock root out; beyond its cap they are refused" {
	# The defaults: 8 connections per uid, closed after 30 s idle.
	start_picketd
	bg hold 80
	wait_for test -e "$T/hold/held"
	# While the member holds what it may, root is answered at once ...
	start=$(_now_us)
	run -0 timeout 2 "$PICKETCTL" --run-dir "$RUN" status
	assert_contains "${lines[0]}" "running (pid $PICKETD_PID,"
	elapsed_ms=$((($(_now_us) - start) / 1000))
	[ "$elapsed_ms" -lt 2000 ] || fail "root's status took $elapsed_ms ms"
	# ... and what it may is 8: the other 72 got an error line and were closed.
	assert_eq "$(cat "$T/hold/held")" \
		"8 72 {\"ok\":false,\"error\":\"too many connections: uid $MUID has 8 open (control.max_connections_per_uid)\"}" \
		"open, refused, the refusal"
	run -1 mctl status
	assert_eq "$output" "picketctl: too many connections: uid $MUID has 8 open (control.max_connections_per_uid)"
	assert_contains "$(cat "$DLOG")" "control: refused pid"
	touch "$T/hold/release"
	wait_for proc_gone "$BG_PID"
	wait_for mctl status
}

# idle PAYLOAD: as $MEMBER (or as root with IDLE_AS_ROOT=1), connects,
# sends PAYLOAD (a Python bytes literal) and prints "SECONDS LINE" when the
# daemon closes the connection, or "open" after 6 s.
idle() {
	local run=(as_member)
	[ "${IDLE_AS_ROOT:-}" != 1 ] || run=()
	"${run[@]}" "$PYTHON" - "$RUN/picketd.sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
start = time.monotonic()
s.settimeout(6)
data = b""
try:
    while True:
        k = s.recv(4096)
        if not k:
            break
        data += k
except socket.timeout:
    print("open")
    sys.exit(0)
print("%.1f %s" % (time.monotonic() - start, " | ".join(data.decode().split("\n")).strip(" |")))
PY
}

@test "adversarial control: a connection that sends no complete request is closed after control.idle_timeout" {
	member_policy "control = { idle_timeout = 2; };"
	start_picketd
	want="{\"ok\":false,\"error\":\"closed after 2 s without a request (control.idle_timeout)\"}"
	for payload in 'b""' 'b"{\"cmd\":\"sta"'; do
		out=$(idle "$payload")
		secs=${out%% *}
		assert_eq "${out#* }" "$want" "what the daemon said to $payload"
		[ "${secs%.*}" -ge 1 ] && [ "${secs%.*}" -le 3 ] || fail "closed after $secs s, not 2-3 s"
	done
	# After an answer the clock starts again.
	out=$(idle 'b"{\"cmd\":\"fault\",\"id\":5}\n"')
	secs=${out%% *}
	[[ ${out#* } == '{"ok":true,"fault":{"id":5,'*"} | $want" ]] || fail "after an answer: $out"
	[ "${secs%.*}" -ge 1 ] && [ "${secs%.*}" -le 3 ] || fail "closed after $secs s, not 2-3 s"
	# Root's connections are never timed out.
	assert_eq "$(IDLE_AS_ROOT=1 idle 'b""')" open "root's idle connection"
}

@test "adversarial control: a follower taken out of the admin group loses its stream at the next check" {
	member_policy "control = { membership_check = 1; idle_timeout = 1; };"
	start_picketd
	"${AS_MEMBER[@]}" "$PICKETCTL" --run-dir "$RUN" events --follow >"$T/follow.out" 2>"$T/follow.err" &
	follower=$!
	BG_PIDS+=("$follower")
	wait_for grep -q daemon_started "$T/follow.out"
	# A member that stays one keeps its stream (idle timeouts are not for followers).
	sleep 3
	proc_gone "$follower" && fail "the follower ended while still a member: $(cat "$T/follow.err")"
	run -0 ctl policy reload
	wait_for grep -q policy_loaded "$T/follow.out"

	gpasswd -d "$MEMBER" "$ADMIN" >/dev/null
	start=$(_now_us)
	# The check runs every second; the margin is for a loaded machine.
	wait_for -t 4 proc_gone "$follower"
	elapsed_ms=$((($(_now_us) - start) / 1000))
	wait "$follower" && st=0 || st=$?
	assert_eq "$st" 1 "exit status of the follower"
	assert_eq "$(cat "$T/follow.err")" "picketctl: permission denied: uid $MUID is no longer in the admin group"
	[ "$elapsed_ms" -le 3000 ] || fail "the stream ended $elapsed_ms ms after the removal"
	assert_contains "$(cat "$DLOG")" "control: ending the event stream of pid"
}
