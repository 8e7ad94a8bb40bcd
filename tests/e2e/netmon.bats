#!/usr/bin/env bats
# The network monitor on this kernel: TCP flows with both sides' processes,
# UDP sends rate-limited per process and peer, the blocklist in audit and
# block mode (127.0.0.2 is loopback on Linux without configuration, so a
# blocklisted address can be reached for real), a policy reload that
# changes them without a restart, process exclusions (by executable, uid
# and cgroup, applied in the kernel and counted there, changed by a reload
# without a restart), a ring buffer resized by a reload, and fault 9.
#
# The test clients stay alive until the test has read their events (they
# wait for $T/out/release), so the process table can still name their
# executable from /proc.  They write to $T/out (mode 1777): some run as
# another user.

load helpers

setup() {
	e2e_setup
	# The network monitor's fault is what these tests compare.
	OTHER_FAULTS="6 7 20 8 22"
	command -v jq >/dev/null || fail "jq is not installed"
	PY_EXE=$(realpath "$PYTHON")
	install -d -m 1777 "$T/out"
	RUNAS=()
	CG_DIR=
	net_policy
	write_clients
}

teardown() {
	local rc=0 i
	e2e_teardown || rc=$?
	# The cgroup of the cgroup exclusion test: empty once its processes
	# (killed by e2e_teardown) are reaped.
	if [ -n "$CG_DIR" ] && [ -d "$CG_DIR" ]; then
		for i in $(seq 50); do
			rmdir "$CG_DIR" 2>/dev/null && break
			sleep 0.1
		done
		[ ! -d "$CG_DIR" ] || { echo "cannot remove $CG_DIR"; rc=1; }
	fi
	return "$rc"
}

# net_policy [LINE...]: write_policy with the network monitor on, whatever
# the shared base policy says about it.
net_policy() {
	write_policy "device_flow_correlation = true;" "$@"
}

# ------------------------------------------------------------------ clients

write_clients() {
	# listen.py HOST: listens on an ephemeral port, prints "PORT PID", accepts
	# and closes connections until killed.
	cat >"$T/listen.py" <<'EOF'
import os, socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.bind((host, 0))
s.listen(64)
print(s.getsockname()[1], os.getpid(), flush=True)
while True:
    s.accept()[0].close()
EOF
	# client.py OUT tcp HOST PORT | tcphold HOST PORT | udp HOST PORT COUNT:
	# one TCP connect, or COUNT UDP datagrams; writes "PID LPORT RESULT"
	# (RESULT: ok or the errno's name) to OUT, then waits for the release
	# file beside OUT; tcphold closes its connection only then.
	cat >"$T/client.py" <<'EOF'
import errno, os, socket, sys, time
out, kind, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
result = "ok"
s = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
try:
    if kind == "udp":
        for _ in range(int(sys.argv[5])):
            s.sendto(b"picket", (host, port))
    else:
        s.connect((host, port))
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e.errno))
lport = s.getsockname()[1]  # a refused send has bound its port already
if kind != "tcphold":
    s.close()
with open(out + ".tmp", "w") as f:
    f.write("%d %d %s\n" % (os.getpid(), lport, result))
os.rename(out + ".tmp", out)
release = os.path.join(os.path.dirname(out), "release")
deadline = time.time() + 30
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
s.close()
EOF
}

# listen HOST: a listener in the background (run by "${RUNAS[@]}", if
# set); sets PORT and LISTENER_PID.
listen() {
	rm -f "$T/listen.out"
	bg "${RUNAS[@]}" "$PYTHON" "$T/listen.py" "$1" >"$T/listen.out"
	wait_for test -s "$T/listen.out"
	read -r PORT LISTENER_PID <"$T/listen.out"
}

# client NAME ARGS...: runs client.py in the background (run by
# "${RUNAS[@]}", if set); sets CLIENT_PID, CLIENT_LPORT and CLIENT_RESULT
# once it has written them.
client() {
	local name=$1
	shift
	rm -f "$T/out/$name.out" "$T/out/release"
	bg "${RUNAS[@]}" "$PYTHON" "$T/client.py" "$T/out/$name.out" "$@"
	wait_for test -s "$T/out/$name.out"
	read -r CLIENT_PID CLIENT_LPORT CLIENT_RESULT <"$T/out/$name.out"
}

release_clients() {
	: >"$T/out/release"
}

# ------------------------------------------------------------------ events

# flows FILTER: the flow events matching the jq FILTER, one compact line each.
flows() {
	jq -c "select(.type == \"flow\") | select($1)" "$EVENTS"
}

# flow_count FILTER
flow_count() {
	flows "$1" | wc -l
}

# flow_count_is N FILTER
flow_count_is() {
	[ "$(flow_count "$2")" -eq "$1" ]
}

# has_flow FILTER: true once a flow event matches.
has_flow() {
	[ "$(flow_count "$1")" -gt 0 ]
}

# flow_fields FILTER: the compared fields of the matching events, one line each.
flow_fields() {
	flows "$1" | jq -c '[.proto, .direction, .state, .local, .lport, .remote, .rport,
		.blocklisted, .process.pid, .process.exe]'
}

net_status() {
	ctl --json status | jq -c ".monitors.network$1"
}

network_running() {
	[ "$(net_status .state)" = '"running"' ]
}

# excluded_is JSON: the kernel's count of excluded events by kind, exactly.
excluded_is() {
	[ "$(net_status .excluded_by_type)" = "$1" ]
}

# excluded KINDS: {"connect":..,"accept":..,"close":..,"udp":..,"blocked":..}
# from "connect accept close udp blocked" counts.
excluded() {
	printf '{"connect":%s,"accept":%s,"close":%s,"udp":%s,"blocked":%s}' "$@"
}

start_netmon() {
	start_picketd
	wait_for network_running
}

# ------------------------------------------------------------------- tests

@test "TCP: a loopback connect is an outbound and an inbound flow, each with its own process" {
	net_policy "network_monitor = { log_closed = true; };"
	start_netmon
	assert_eq "$(net_status '| [.backend, .cgroup, .mode, .blocklist_entries]')" \
		"[\"ebpf\",\"$(findmnt -n -t cgroup2 -o TARGET | head -n1)\",\"audit\",0]"
	assert_eq "$(active_faults)" ""

	listen 127.0.0.1
	client c tcp 127.0.0.1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok "connect result"
	wait_for has_flow ".proto == \"tcp\" and .lport == $PORT and .state == \"closed\""
	wait_for has_flow ".proto == \"tcp\" and .rport == $PORT and .state == \"closed\""
	assert_eq "$(flow_fields ".proto == \"tcp\" and .rport == $PORT and .lport == $CLIENT_LPORT")" \
		"[\"tcp\",\"outbound\",\"established\",\"127.0.0.1\",$CLIENT_LPORT,\"127.0.0.1\",$PORT,false,$CLIENT_PID,\"$PY_EXE\"]
[\"tcp\",\"outbound\",\"closed\",\"127.0.0.1\",$CLIENT_LPORT,\"127.0.0.1\",$PORT,false,$CLIENT_PID,\"$PY_EXE\"]"
	assert_eq "$(flow_fields ".proto == \"tcp\" and .lport == $PORT and .rport == $CLIENT_LPORT")" \
		"[\"tcp\",\"inbound\",\"established\",\"127.0.0.1\",$PORT,\"127.0.0.1\",$CLIENT_LPORT,false,$LISTENER_PID,\"$PY_EXE\"]
[\"tcp\",\"inbound\",\"closed\",\"127.0.0.1\",$PORT,\"127.0.0.1\",$CLIENT_LPORT,false,$LISTENER_PID,\"$PY_EXE\"]"
	assert_eq "$(flows ".rport == $PORT and .state == \"established\"" | jq -c '.process | [.ppid, .uid, .argv]')" \
		"[$BASHPID,0,\"$PYTHON $T/client.py $T/out/c.out tcp 127.0.0.1 $PORT\"]"
	release_clients
	[ "$(net_status .events.connect)" -ge 1 ]
	[ "$(net_status .events.accept)" -ge 1 ]
	[ "$(net_status .events.close)" -ge 2 ]
	# Drops depend on what else the host does meanwhile: only the count's form.
	assert_match "$(net_status .lost)" '^[0-9]+$'
}

@test "no cgroup2 mounted: the monitor runs on its tracepoint, says the blocklist is not enforced, still reports flows" {
	net_policy 'network_monitor = { mode = "block"; blocklist = [ "127.0.0.2" ]; };'
	# picketd in a mount namespace of its own, without the cgroup2 mount.
	local saved=$PICKETD cg
	cg=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
	[ -n "$cg" ] || skip "no cgroup2 hierarchy"
	PICKETD=$T/picketd-no-cgroup2
	printf '#!/bin/sh\nexec unshare -m --propagation private sh -c '\''umount -l "$0" && exec "$@"'\'' %s %s "$@"\n' \
		"$cg" "$saved" >"$PICKETD"
	chmod 0755 "$PICKETD"
	start_netmon
	PICKETD=$saved
	assert_eq "$(net_status '| [.state, .cgroup_hooks]')" \
		'["running","off: no cgroup2 filesystem mounted: the blocklist is not enforced, UDP sends are not reported"]'
	assert_eq "$(active_faults)" ""
	listen 0.0.0.0
	client notblocked tcp 127.0.0.2 "$PORT"
	assert_eq "$CLIENT_RESULT" ok "connect to 127.0.0.2 without the cgroup programs"
	wait_for has_flow ".remote == \"127.0.0.2\" and .rport == $PORT and .state == \"established\""
	release_clients
}

@test "TCP: IPv6 and a dual-stack listener; log_closed = false reports no close" {
	start_netmon
	listen ::
	client v6 tcp ::1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok
	client v4 tcp 127.0.0.1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok
	local v4_lport=$CLIENT_LPORT
	wait_for has_flow ".direction == \"inbound\" and .lport == $PORT and .rport == $v4_lport"
	# The IPv4 peer of the IPv6 listener is written as IPv4 (not ::ffff:127.0.0.1).
	assert_eq "$(flow_fields ".direction == \"inbound\" and .lport == $PORT")" \
		"$(printf '["tcp","inbound","established","::1",%s,"::1",%s,false,%s,"%s"]\n["tcp","inbound","established","127.0.0.1",%s,"127.0.0.1",%s,false,%s,"%s"]' \
			"$PORT" "$(awk '{print $2}' "$T/out/v6.out")" "$LISTENER_PID" "$PY_EXE" \
			"$PORT" "$v4_lport" "$LISTENER_PID" "$PY_EXE")"
	release_clients
	sleep 0.5
	assert_eq "$(flow_count '.state == "closed"')" 0 "closed events with log_closed = false"
}

@test "TCP: a listener older than picketd is found in /proc and names the inbound flows" {
	listen 127.0.0.1
	start_netmon
	client old tcp 127.0.0.1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok
	wait_for has_flow ".direction == \"inbound\" and .lport == $PORT"
	assert_eq "$(flow_fields ".direction == \"inbound\" and .lport == $PORT")" \
		"[\"tcp\",\"inbound\",\"established\",\"127.0.0.1\",$PORT,\"127.0.0.1\",$CLIENT_LPORT,false,$LISTENER_PID,\"$PY_EXE\"]"
	release_clients
}

@test "block mode: a connect to 127.0.0.2 fails with EPERM and is an event; other loopback connects work" {
	net_policy 'network_monitor = { mode = "block"; blocklist = [ "127.0.0.2", "2001:db8::/32" ]; };'
	start_netmon
	assert_eq "$(net_status '| [.mode, .blocklist_entries]')" '["block",2]'
	listen 0.0.0.0

	client blocked tcp 127.0.0.2 "$PORT"
	assert_eq "$CLIENT_RESULT" EPERM "connect to 127.0.0.2"
	local blocked_pid=$CLIENT_PID
	client allowed tcp 127.0.0.1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok "connect to 127.0.0.1"
	client udp udp 127.0.0.2 "$PORT" 1
	assert_eq "$CLIENT_RESULT" EPERM "UDP send to 127.0.0.2"
	local udp_pid=$CLIENT_PID

	wait_for has_flow ".process.pid == $udp_pid"
	wait_for has_flow ".direction == \"inbound\" and .lport == $PORT"
	assert_eq "$(flow_fields ".remote == \"127.0.0.2\" and (.process.pid == $blocked_pid or .process.pid == $udp_pid)")" \
		"[\"tcp\",\"outbound\",\"blocked\",\"0.0.0.0\",0,\"127.0.0.2\",$PORT,true,$blocked_pid,\"$PY_EXE\"]
[\"udp\",\"outbound\",\"blocked\",\"0.0.0.0\",$CLIENT_LPORT,\"127.0.0.2\",$PORT,true,$udp_pid,\"$PY_EXE\"]"
	assert_eq "$(flow_count ".remote == \"127.0.0.1\" and .rport == $PORT and .state == \"established\"")" 1
	release_clients
	assert_eq "$(net_status .events.blocked)" 2
}

@test "audit mode reports a blocklisted flow and lets it through; a reload switches to block without a restart" {
	printf '# test list\n127.0.0.2\n\n192.0.2.0/24 # documentation range\n' >"$T/blocklist.txt"
	net_policy "network_monitor = { blocklist = [ \"203.0.113.9\" ]; blocklist_file = \"$T/blocklist.txt\"; };"
	start_netmon
	assert_eq "$(net_status '| [.mode, .blocklist_entries]')" '["audit",3]'
	listen 0.0.0.0

	client audit tcp 127.0.0.2 "$PORT"
	assert_eq "$CLIENT_RESULT" ok "connect in audit mode"
	wait_for has_flow ".remote == \"127.0.0.2\" and .state == \"established\""
	assert_eq "$(flows ".remote == \"127.0.0.2\" and .process.pid == $CLIENT_PID" | jq -c '[.direction, .state, .blocklisted, .process.pid]')" \
		"[\"outbound\",\"blocklisted\",true,$CLIENT_PID]
[\"outbound\",\"established\",true,$CLIENT_PID]"
	assert_eq "$(flows ".local == \"127.0.0.2\" and .lport == $PORT" | jq -c '[.direction, .blocklisted]')" \
		'["inbound",false]' "the inbound side: its remote (127.0.0.1) is not listed"
	release_clients
	local pid=$PICKETD_PID

	# Block mode, 127.0.0.2 out of the list and 127.0.0.3 in.
	printf '127.0.0.3\n' >"$T/blocklist.txt"
	net_policy "network_monitor = { mode = \"block\"; blocklist_file = \"$T/blocklist.txt\"; };"
	run -0 ctl policy reload
	assert_eq "$(net_status '| [.mode, .blocklist_entries]')" '["block",1]'
	client now_blocked tcp 127.0.0.3 "$PORT"
	assert_eq "$CLIENT_RESULT" EPERM "connect to 127.0.0.3 after the reload"
	client now_allowed tcp 127.0.0.2 "$PORT"
	assert_eq "$CLIENT_RESULT" ok "connect to 127.0.0.2 after the reload"
	assert_eq "$PICKETD_PID" "$pid" "picketd was not restarted"
	release_clients
}

@test "UDP: one event per process and peer per udp_interval; udp_interval = 0 reports every send" {
	net_policy "network_monitor = { udp_interval = 60; };"
	start_netmon
	client five udp 127.0.0.1 9 5
	assert_eq "$CLIENT_RESULT" ok
	local pid=$CLIENT_PID lport=$CLIENT_LPORT
	wait_for has_flow ".process.pid == $pid"
	sleep 0.3
	assert_eq "$(flow_fields ".process.pid == $pid")" \
		"[\"udp\",\"outbound\",\"sent\",\"0.0.0.0\",$lport,\"127.0.0.1\",9,false,$pid,\"$PY_EXE\"]"
	release_clients

	net_policy "network_monitor = { udp_interval = 0; };"
	run -0 ctl policy reload
	client three udp ::1 9 3
	assert_eq "$CLIENT_RESULT" ok
	wait_for flow_count_is 3 ".process.pid == $CLIENT_PID"
	assert_eq "$(flows ".process.pid == $CLIENT_PID" | jq -c '[.proto, .state, .remote, .rport]' | sort -u)" \
		'["udp","sent","::1",9]'
	release_clients
}

@test "process exclusions by executable: left out in the kernel and counted per kind; refusals are reported" {
	cp "$PY_EXE" "$T/quiet-python"
	net_policy "process_exclusions = [ \"$T/quiet-python\" ];" \
		'network_monitor = { mode = "block"; blocklist = [ "127.0.0.2" ]; log_closed = true; };'
	start_netmon
	assert_eq "$(net_status '| [.exclusions, .excluded, .degraded]')" '[1,0,false]'
	listen 127.0.0.1
	local saved=$PYTHON
	PYTHON=$T/quiet-python
	client quiet tcp 127.0.0.1 "$PORT"
	local quiet_pid=$CLIENT_PID
	client quiet_udp udp 127.0.0.1 9 3
	local udp_pid=$CLIENT_PID
	client quiet_blocked tcp 127.0.0.2 "$PORT"
	assert_eq "$CLIENT_RESULT" EPERM
	local blocked_pid=$CLIENT_PID
	PYTHON=$saved
	client loud tcp 127.0.0.1 "$PORT"
	# Established and closed, the excluded one's and the other's.
	wait_for has_flow ".process.pid == $CLIENT_PID and .state == \"closed\""
	wait_for has_flow ".process.pid == $blocked_pid"
	wait_for excluded_is "$(excluded 1 0 1 1 0)"
	assert_eq "$(flow_count ".process.pid == $quiet_pid or .process.pid == $udp_pid")" 0 \
		"events of the excluded clients"
	# The listener is not excluded: its side of the excluded client's connection is reported.
	assert_eq "$(flows ".lport == $PORT and .rport == $(awk '{print $2}' "$T/out/quiet.out")" | jq -c '[.direction, .state, .process.pid]')" \
		"[\"inbound\",\"established\",$LISTENER_PID]
[\"inbound\",\"closed\",$LISTENER_PID]"
	assert_eq "$(flows ".process.pid == $blocked_pid" | jq -c '[.state, .process.exe]')" \
		"[\"blocked\",\"$T/quiet-python\"]"
	assert_eq "$(net_status .excluded)" 3
	release_clients
}

@test "process exclusions follow a reload without a restart: of a client's next connects, of a running listener's next accepts" {
	cp "$PY_EXE" "$T/quiet-python"
	net_policy "process_exclusions = [ \"$T/quiet-python\" ];"
	start_netmon
	local pid=$PICKETD_PID saved=$PYTHON
	PYTHON=$T/quiet-python
	listen 127.0.0.1
	local quiet_listener=$LISTENER_PID

	# Excluded: the quiet client's connect and both accepts.
	client quiet1 tcp 127.0.0.1 "$PORT"
	local quiet1=$CLIENT_PID
	PYTHON=$saved
	client loud1 tcp 127.0.0.1 "$PORT"
	wait_for has_flow ".process.pid == $CLIENT_PID"
	wait_for excluded_is "$(excluded 1 2 0 0 0)"
	assert_eq "$(flow_count ".process.pid == $quiet1 or .process.pid == $quiet_listener")" 0

	# The exclusion removed: the same listener's accepts are events again.
	net_policy
	run -0 ctl policy reload
	assert_eq "$(net_status .exclusions)" 0
	PYTHON=$T/quiet-python
	client quiet2 tcp 127.0.0.1 "$PORT"
	local quiet2=$CLIENT_PID
	PYTHON=$saved
	wait_for has_flow ".process.pid == $quiet_listener"
	assert_eq "$(flow_fields ".process.pid == $quiet2 or .process.pid == $quiet_listener")" \
		"[\"tcp\",\"outbound\",\"established\",\"127.0.0.1\",$CLIENT_LPORT,\"127.0.0.1\",$PORT,false,$quiet2,\"$T/quiet-python\"]
[\"tcp\",\"inbound\",\"established\",\"127.0.0.1\",$PORT,\"127.0.0.1\",$CLIENT_LPORT,false,$quiet_listener,\"$T/quiet-python\"]"

	# And added again: both sides stop.
	net_policy "process_exclusions = [ \"$T/quiet-python\" ];"
	run -0 ctl policy reload
	assert_eq "$(net_status .exclusions)" 1
	PYTHON=$T/quiet-python
	client quiet3 tcp 127.0.0.1 "$PORT"
	local quiet3=$CLIENT_PID
	PYTHON=$saved
	client loud3 tcp 127.0.0.1 "$PORT"
	wait_for has_flow ".process.pid == $CLIENT_PID"
	wait_for excluded_is "$(excluded 2 4 0 0 0)"
	assert_eq "$(flow_count ".process.pid == $quiet3")" 0
	assert_eq "$(flow_count ".process.pid == $quiet_listener")" 1 "the listener's events: quiet2's accept"
	assert_eq "$PICKETD_PID" "$pid" "picketd was not restarted"
	assert_eq "$(net_status .state)" '"running"'
	release_clients
}

@test "process exclusions by uid: that user's connects, sends and listeners are left out" {
	# Not nobody: a host daemon may use it.  No process runs as this uid.
	local uid=64123
	[ "$(ps -u "$uid" -o pid= | wc -l)" -eq 0 ] || skip "uid $uid is in use"
	net_policy "process_exclusion_uids = [ $uid ];"
	start_netmon
	assert_eq "$(net_status .exclusions)" 1
	listen 127.0.0.1
	RUNAS=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
	client quiet tcp 127.0.0.1 "$PORT"
	assert_eq "$CLIENT_RESULT" ok
	local quiet=$CLIENT_PID
	client quiet_udp udp 127.0.0.1 9 2
	local quiet_udp=$CLIENT_PID
	listen 127.0.0.1
	local quiet_listener=$LISTENER_PID
	RUNAS=()
	client loud tcp 127.0.0.1 "$PORT"
	wait_for has_flow ".process.pid == $CLIENT_PID"
	wait_for excluded_is "$(excluded 1 1 0 1 0)"
	assert_eq "$(flow_count ".process.pid == $quiet or .process.pid == $quiet_udp or .process.pid == $quiet_listener")" 0
	assert_eq "$(flows ".process.pid == $CLIENT_PID" | jq -c '[.direction, .rport, .process.uid]')" \
		"[\"outbound\",$PORT,0]"
	release_clients
}

@test "process exclusions by cgroup: the processes of that cgroup-v2 directory are left out" {
	local root
	root=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
	[ -n "$root" ] || skip "no cgroup2 hierarchy"
	CG_DIR=$root/picket-e2e-$$
	mkdir "$CG_DIR"
	net_policy "process_exclusion_cgroups = [ \"/picket-e2e-$$\" ];"
	start_netmon
	assert_eq "$(net_status .exclusions)" 1
	listen 127.0.0.1
	# A shell that moves itself into the cgroup, then runs the client.
	RUNAS=(bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_DIR")
	client quiet tcp 127.0.0.1 "$PORT"
	local quiet=$CLIENT_PID
	assert_eq "$(grep '^0::' "/proc/$quiet/cgroup")" "0::/picket-e2e-$$"
	client quiet_udp udp 127.0.0.1 9 1
	local quiet_udp=$CLIENT_PID
	RUNAS=()
	client loud tcp 127.0.0.1 "$PORT"
	wait_for has_flow ".process.pid == $CLIENT_PID"
	wait_for excluded_is "$(excluded 1 0 0 1 0)"
	assert_eq "$(flow_count ".process.pid == $quiet or .process.pid == $quiet_udp")" 0
	release_clients
}

@test "process exclusions of listeners older than picketd: decided from what /proc says (executable, uid, cgroup)" {
	local root uid=64123 ports=() listeners=() p
	root=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
	[ -n "$root" ] || skip "no cgroup2 hierarchy"
	[ "$(ps -u "$uid" -o pid= | wc -l)" -eq 0 ] || skip "uid $uid is in use"
	CG_DIR=$root/picket-e2e-$$
	mkdir "$CG_DIR"
	cp "$PY_EXE" "$T/quiet-python"
	local saved=$PYTHON
	PYTHON=$T/quiet-python
	listen 127.0.0.1
	ports+=("$PORT") listeners+=("$LISTENER_PID")
	PYTHON=$saved
	RUNAS=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
	listen 127.0.0.1
	ports+=("$PORT") listeners+=("$LISTENER_PID")
	RUNAS=(bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_DIR")
	listen 127.0.0.1
	ports+=("$PORT") listeners+=("$LISTENER_PID")
	RUNAS=()
	listen 127.0.0.1 # not excluded
	net_policy "process_exclusions = [ \"$T/quiet-python\" ];" "process_exclusion_uids = [ $uid ];" \
		"process_exclusion_cgroups = [ \"/picket-e2e-$$\" ];"
	start_netmon
	assert_eq "$(net_status .exclusions)" 3
	for p in "${ports[@]}" "$PORT"; do
		client "c$p" tcp 127.0.0.1 "$p"
		wait_for has_flow ".process.pid == $CLIENT_PID"
	done
	wait_for has_flow ".direction == \"inbound\" and .lport == $PORT"
	wait_for excluded_is "$(excluded 0 3 0 0 0)"
	assert_eq "$(flows '.direction == "outbound"' | jq -c .rport | paste -sd' ')" "${ports[*]} $PORT"
	assert_eq "$(flows '.direction == "inbound"' | jq -c '[.lport, .process.pid]')" "[$PORT,$LISTENER_PID]"
	release_clients
}

@test "ring_buffer_kb: a reload resizes the ring buffer without a restart; the new programs take over flows and listeners" {
	net_policy "network_monitor = { ring_buffer_kb = 64; log_closed = true; };"
	start_netmon
	assert_eq "$(net_status .ring_buffer_kb)" 64
	local pid=$PICKETD_PID
	listen 127.0.0.1
	client held tcphold 127.0.0.1 "$PORT"
	local held=$CLIENT_PID held_lport=$CLIENT_LPORT
	wait_for has_flow ".process.pid == $held"

	net_policy "network_monitor = { ring_buffer_kb = 128; log_closed = true; };"
	run -0 ctl policy reload
	assert_eq "$(net_status .ring_buffer_kb)" 128
	assert_eq "$PICKETD_PID" "$pid" "picketd was not restarted"
	# The held connection's close, and a new connection's inbound side named
	# from the listener the old programs recorded.
	client after tcp 127.0.0.1 "$PORT"
	release_clients
	wait_for has_flow ".process.pid == $held and .state == \"closed\""
	wait_for has_flow ".direction == \"inbound\" and .rport == $CLIENT_LPORT and .state == \"closed\""
	assert_eq "$(flows ".process.pid == $held" | jq -c '[.state, .lport, .rport]')" \
		"[\"established\",$held_lport,$PORT]
[\"closed\",$held_lport,$PORT]"
	assert_eq "$(flows ".lport == $PORT and .rport == $CLIENT_LPORT" | jq -c '[.state, .process.pid]')" \
		"[\"established\",$LISTENER_PID]
[\"closed\",$LISTENER_PID]"
	grep -q "network monitor: ring buffer resized from 64 to 128 KiB" "$DLOG"
}

@test "fault 9: eBPF refused (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN dropped) raises it with EPERM; a normal start clears it" {
	command -v capsh >/dev/null || skip "capsh (libcap2-bin) is not installed"
	start_picketd_dropping cap_bpf,cap_perfmon,cap_sys_admin
	assert_eq "$(fault_state 9)" active
	assert_eq "$(fault_detail 9)" "ebpf: load netmon: Operation not permitted"
	assert_eq "$(net_status .state)" '"failed"'
	stop_picketd

	start_picketd
	assert_eq "$(fault_state 9)" cleared
	assert_eq "$(net_status .state)" '"running"'
	assert_eq "$(fault_history 9)" "fault_raised fault_cleared"
}

@test "device_flow_correlation = false stops the monitor on reload and never raises fault 9" {
	start_netmon
	write_policy "device_flow_correlation = false;"
	run -0 ctl policy reload
	assert_eq "$(net_status .state)" '"off"'
	listen 127.0.0.1
	client off tcp 127.0.0.1 "$PORT"
	release_clients
	sleep 0.3
	assert_eq "$(flow_count ".rport == $PORT or .lport == $PORT")" 0
	assert_eq "$(fault_state 9)" cleared
}

