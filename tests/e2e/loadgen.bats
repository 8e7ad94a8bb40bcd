#!/usr/bin/env bats
# picket-load, the load generator of the monitor tests and of
# bench/monitor-bench.sh: its counts must be exact, since the monitors'
# event counts are checked against them.

load helpers

setup() {
	e2e_setup
	LOADGEN=$PICKET_BUILD/src/loadgen/picket-load
	[ -x "$LOADGEN" ] || fail "no picket-load in $PICKET_BUILD (set PICKET_BUILD)"
	WORK=$T/work
	mkdir -p "$WORK"
}

# load_counts JSON: "created close_write renamed unlinked file_failures execs
# exec_failures connects connect_failures".
load_counts() {
	jpy '" ".join(str(x) for x in [d["files"][k] for k in ("created", "close_write", "renamed", "unlinked", "failures")] + [d[k] for k in ("execs", "exec_failures", "connects", "connect_failures")])' <<<"$1"
}

@test "picket-load --count 50: exactly 50 of each kind, the directory left empty" {
	run --separate-stderr "$LOADGEN" --count 50 --files max --execs max --connects max --dir "$WORK"
	assert_eq "$status" 0 "exit status" || { echo "$stderr"; false; }
	assert_eq "$stderr" "" "stderr"
	assert_eq "$(load_counts "$output")" "50 50 50 50 0 50 0 50 0" "counts"
	assert_eq "$(jpy '[d["mode"], d["exe"], isinstance(d["pid"], int) and d["pid"] > 0]' <<<"$output")" \
		"[\"count\",\"$(realpath "$LOADGEN")\",true]" "mode, exe and pid"
	assert_eq "$(ls -A "$WORK")" "" "files left in $WORK"
}

@test "picket-load --duration 1 at 100/s: 100 of each kind within 10 %, one second" {
	run --separate-stderr "$LOADGEN" --duration 1 --files 100 --execs 100 --connects 100 --dir "$WORK"
	assert_eq "$status" 0 "exit status" || { echo "$stderr"; false; }
	read -r created cw renamed unlinked ff execs ef connects cf <<<"$(load_counts "$output")"
	for n in "$created" "$execs" "$connects"; do
		[ "$n" -ge 90 ] && [ "$n" -le 110 ] || fail "a count out of 90..110: $output"
	done
	assert_eq "$cw $renamed $unlinked" "$created $created $created" "close_write, renamed, unlinked"
	assert_eq "$ff $ef $cf" "0 0 0" "failures"
	assert_eq "$(jpy '0.9 <= d["duration_s"] <= 1.5 and all(90 <= v <= 110 for v in d["achieved_rate"].values())' <<<"$output")" \
		true "duration and achieved rates: $output"
	assert_eq "$(ls -A "$WORK")" "" "files left in $WORK"
}

@test "picket-load: a failed execve and a refused connect are counted, exit 2" {
	printf '#!/nonexistent/interpreter\n' >"$T/noexec"
	chmod 0755 "$T/noexec"
	# A port nobody listens on (bound, then freed).
	port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run --separate-stderr "$LOADGEN" --count 7 --execs max --exec "$T/noexec" \
		--connects max --connect "127.0.0.1:$port"
	assert_eq "$status" 2 "exit status"
	assert_eq "$(load_counts "$output")" "0 0 0 0 0 0 7 0 7" "counts"
	assert_contains "$stderr" "execs ($T/noexec): No such file or directory"
}

@test "picket-load --connect: an external loopback listener gets every connect" {
	bg "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
s.listen(128)
print(s.getsockname()[1], flush=True)
while True:
    s.accept()[0].close()
' >"$T/port"
	wait_for test -s "$T/port"
	run --separate-stderr "$LOADGEN" --count 30 --connects max --connect "[::1]:$(cat "$T/port")"
	assert_eq "$status" 0 "exit status" || { echo "$stderr"; false; }
	assert_eq "$(load_counts "$output")" "0 0 0 0 0 0 0 30 0" "counts"
}

@test "picket-load: bad arguments exit 1 with the usage" {
	for args in "" "--count 5" "--count 5 --duration 1 --execs 1" "--count 5 --files max" \
		"--count 5 --execs fast" "--count 5 --connects 1 --connect 192.0.2.1:80" \
		"--count 5 --execs 1 --exec /nonexistent" "--duration -1 --execs 1"; do
		run --separate-stderr "$LOADGEN" $args
		assert_eq "$status" 1 "exit status of picket-load $args"
		assert_eq "$output" "" "stdout of picket-load $args"
		assert_contains "$stderr" "usage: picket-load" "stderr of picket-load $args"
	done
}
