#!/usr/bin/env bats
# The control socket: malformed, unknown and oversized requests get an error
# reply and the daemon keeps serving; many clients at once; who may connect
# (root, members of the policy's admin_group); picketctl without a daemon.

load helpers

ADMIN_GROUP=picket-admin-test
# An admin group that does not exist: the socket is root's only.
NO_GROUP=picket-e2e-nogroup

# raw REQUEST...: sends each REQUEST (a Python bytes expression, e.g.
# 'b"{}\n"') on one connection, then prints each reply line until the daemon
# has answered them all (one reply a line; one for a request over 4096
# bytes), or closed the connection: then a last line "EOF".  With
# RAW_EOF=1, reads on after the replies until the daemon closes.
raw() {
	"$PYTHON" - "$RUN/picketd.sock" "$@" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])  # blocking: waits for room in the listen backlog
s.settimeout(20)
want = 0
for lit in sys.argv[2:]:
    data = eval(lit)
    s.sendall(data)
    want += data.count(b"\n") if len(data) <= 4096 else 1
buf = b""
got = 0
until_eof = os.environ.get("RAW_EOF") == "1"
while got < want or until_eof:
    try:
        k = s.recv(65536)
    except ConnectionResetError:
        k = b""
    if not k:
        if buf:
            print(buf.decode())
        print("EOF")
        break
    buf += k
    while b"\n" in buf and got < want:
        line, buf = buf.split(b"\n", 1)
        print(line.decode())
        got += 1
PY
}

setup() {
	e2e_setup
	groupdel "$ADMIN_GROUP" 2>/dev/null || true
	! getent group "$NO_GROUP" >/dev/null || fail "group $NO_GROUP exists on this host"
	# The shipped default, picket-admin, may exist on this host (install.bats).
	write_policy "admin_group = \"$NO_GROUP\";"
}

@test "control: a malformed line gets an error reply and the daemon keeps serving on the same connection" {
	start_picketd
	run -0 raw 'b"hello\n{\"cmd\":\"fault\",\"id\":5}\n"'
	assert_eq "${lines[0]}" '{"ok":false,"error":"malformed JSON: unexpected character"}'
	assert_match "${lines[1]}" '^\{"ok":true,"fault":\{"id":5,"name":"Scan-as-user unavailable",'

	run -0 raw 'b"{\"cmd\":\"status\"\n"'
	assert_eq "$output" '{"ok":false,"error":"malformed JSON: unexpected end of request"}'
	run -0 raw 'b"[1,2]\n"' 'b"{\"cmd\":7}\n"' 'b"{\"cmd\":\"faults\",\"all\":1}\n"' \
		'b"{\"cmd\":\"faults\",\"limit\":1}\n"' 'b"{\"cmd\":\"fault\"}\n"' \
		'b"{\"cmd\":\"fault\",\"id\":0}\n"' 'b"{\"cmd\":\"status\"} x\n"' 'b"{\"cmd\":\"st\0atus\"}\n"'
	assert_eq "${lines[0]}" '{"ok":false,"error":"request must be a JSON object"}'
	assert_eq "${lines[1]}" '{"ok":false,"error":"request has no \"cmd\" string"}'
	assert_eq "${lines[2]}" "{\"ok\":false,\"error\":\"'all' must be true or false\"}"
	assert_eq "${lines[3]}" "{\"ok\":false,\"error\":\"'limit' is not a field of 'faults'\"}"
	assert_eq "${lines[4]}" "{\"ok\":false,\"error\":\"'fault' needs an \\\"id\\\"\"}"
	assert_eq "${lines[5]}" "{\"ok\":false,\"error\":\"'id' must be between 1 and 9999\"}"
	assert_eq "${lines[6]}" '{"ok":false,"error":"trailing data after the request object"}'
	assert_eq "${lines[7]}" '{"ok":false,"error":"request contains a NUL byte"}'
	assert_eq "${#lines[@]}" 8

	run -0 ctl status
	assert_contains "${lines[0]}" "running (pid $PICKETD_PID,"
}

@test "control: an unknown command is named in the error" {
	start_picketd
	run -0 raw 'b"{\"cmd\":\"frobnicate\"}\n"'
	assert_eq "$output" "{\"ok\":false,\"error\":\"unknown command 'frobnicate'\"}"
	run -2 ctl frobnicate
	assert_contains "$output" "picketctl: unknown command 'frobnicate'"
	run -0 ctl status
}

@test "control: an oversized request gets 'request too long' and the connection is closed" {
	start_picketd
	RAW_EOF=1 run -0 raw 'b"a" * 10000'
	assert_eq "${lines[0]}" '{"ok":false,"error":"request too long (more than 4096 bytes)"}'
	assert_eq "${lines[1]}" EOF
	# 4096 bytes is the limit: a request of exactly that size is served ...
	run -0 raw 'b" " * (4096 - 22) + b"{\"cmd\":\"fault\",\"id\":5}\n"'
	assert_match "$output" '^\{"ok":true,"fault":\{"id":5,'
	# ... one byte more is not.
	run -0 raw 'b" " * (4097 - 22) + b"{\"cmd\":\"fault\",\"id\":5}\n"'
	assert_eq "${lines[0]}" '{"ok":false,"error":"request too long (more than 4096 bytes)"}'
	run -0 ctl status
	run -0 ctl --json faults show 5
	assert_match "$output" '^\{"ok":true,"fault":\{"id":5,'
}

@test "control: 70 simultaneous connections: 64 are served, the rest closed, the daemon lives" {
	start_picketd
	run -0 "$PYTHON" - "$RUN/picketd.sock" <<'PY'
import socket, sys
conns = []
for _ in range(70):
    s = socket.socket(socket.AF_UNIX)
    # Blocking: a full listen backlog makes connect() wait, where a socket
    # with a timeout would fail with EAGAIN.
    s.connect(sys.argv[1])
    s.settimeout(20)
    conns.append(s)
served = closed = 0
for s in conns:
    try:
        s.sendall(b'{"cmd":"status"}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
for s in conns:
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            k = s.recv(65536)
        except ConnectionResetError:
            k = b""
        if not k:
            break
        buf += k
    if buf.startswith(b'{"ok":true'):
        served += 1
    elif not buf:
        closed += 1
print(served, closed)
PY
	assert_eq "$output" "64 6"
	run -0 ctl status
	assert_contains "$(cat "$DLOG")" "control: 64 clients connected, refusing another"
}

@test "control: picketctl without a daemon exits 3 and asks whether picketd runs" {
	run -3 ctl status
	assert_eq "$output" "picketctl: cannot connect to $RUN/picketd.sock: No such file or directory (is picketd running?)"
	run -3 ctl --json faults
	assert_eq "$output" "{\"ok\":false,\"error\":\"cannot connect to $RUN/picketd.sock: No such file or directory (is picketd running?)\"}"
	run -3 ctl health

	# After a clean stop the socket is gone too.
	start_picketd
	stop_picketd || fail "picketd exited with status $? on SIGTERM"
	[ ! -e "$RUN/picketd.sock" ] || fail "picketd left its socket behind"
	run -3 ctl status
	assert_contains "$output" "(is picketd running?)"

	# A stale socket nobody listens on.
	"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$RUN/picketd.sock"
	run -3 ctl status
	assert_eq "$output" "picketctl: cannot connect to $RUN/picketd.sock: Connection refused (is picketd running?)"
	# picketd takes a stale socket over.
	start_picketd
	run -0 ctl status
}

@test "control: a second picketd on the same run directory is refused and leaves the first alone" {
	start_picketd
	before=$(ls -l --time-style=full-iso "$STATE")
	run -1 timeout 20 "$PICKETD" -f -c "$POLICY" --state-dir "$STATE" --run-dir "$RUN" \
		--log-dir "$LOG" --host-root "$ROOT"
	assert_contains "$output" "Another picketd answers on $RUN/picketd.sock"
	run -0 ctl status
	assert_contains "${lines[0]}" "running (pid $PICKETD_PID,"
	# The refused one wrote nothing to the running daemon's event log ...
	assert_eq "$(events_py '[e["type"] for e in ev]')" '["daemon_started"]'
	# ... nor to its state directory.
	assert_eq "$(ls -l --time-style=full-iso "$STATE")" "$before" "state directory listing"
}

@test "control: a user neither root nor in the admin group is refused, by the socket mode and by the daemon" {
	start_picketd
	assert_contains "$(cat "$DLOG")" "Admin group '$NO_GROUP' not found (no such group): the control socket is root only"
	assert_eq "$(stat -c '%a %U:%G' "$RUN/picketd.sock")" "660 root:root"
	run -3 setpriv --reuid=nobody --regid=nogroup --clear-groups "$PICKETCTL" --run-dir "$RUN" status
	assert_eq "$output" "picketctl: cannot connect to $RUN/picketd.sock: Permission denied (run as root or as a member of the picket admin group)"

	chmod 0666 "$RUN/picketd.sock"
	# The daemon answers and closes at once, maybe before picketctl has sent
	# its request: picketctl must still show the answer (a race: try often).
	for try in $(seq 20); do
		run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$PICKETCTL" --run-dir "$RUN" status
		assert_eq "$output" "picketctl: permission denied: uid 65534 is neither root nor in the admin group" \
			"picketctl's message, try $try"
	done
	run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$PICKETCTL" --run-dir "$RUN" --json faults
	assert_eq "$output" '{"ok":false,"error":"permission denied: uid 65534 is neither root nor in the admin group"}'
	assert_contains "$(cat "$DLOG")" "control: refused pid"
	run -0 ctl status
}

@test "control: a member of the policy's admin_group may use picketctl" {
	groupadd --system "$ADMIN_GROUP"
	GROUPS_ADDED+=("$ADMIN_GROUP")
	gid=$(getent group "$ADMIN_GROUP" | cut -d: -f3)
	write_policy "admin_group = \"$ADMIN_GROUP\";"
	start_picketd
	assert_eq "$(stat -c '%a %U:%G' "$RUN/picketd.sock")" "660 root:$ADMIN_GROUP"

	# As a supplementary group ...
	run -0 setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$PICKETCTL" --run-dir "$RUN" status
	assert_contains "${lines[0]}" "running (pid $PICKETD_PID,"
	run -0 setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$PICKETCTL" --run-dir "$RUN" --json faults show 5
	assert_match "$output" '^\{"ok":true,"fault":\{"id":5,'
	# ... and as the primary group.
	run -0 setpriv --reuid=nobody --regid="$gid" --clear-groups "$PICKETCTL" --run-dir "$RUN" faults show 19
	assert_eq "${lines[0]}" "Fault 19: SELinux policy missing or disabled"
	# Without it: refused.
	run -3 setpriv --reuid=nobody --regid=nogroup --clear-groups "$PICKETCTL" --run-dir "$RUN" status

	# A reload that names another admin group takes the socket away from it.
	write_policy "admin_group = \"$NO_GROUP\";"
	run -0 ctl policy reload
	assert_eq "$(stat -c '%a %U:%G' "$RUN/picketd.sock")" "660 root:root"
	run -3 setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$PICKETCTL" --run-dir "$RUN" status
}
