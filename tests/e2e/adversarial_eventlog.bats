#!/usr/bin/env bats
# Attacks on the event log by an unprivileged user (issue 12, item 10):
#   - a file name or a program with bytes that are not UTF-8, control bytes
#     and a newline: every line must stay strict UTF-8 JSON (a strict reader
#     would drop the detection) and name the file exactly (`<key>_b64`);
#   - a flood of short programs: it must not rotate the detection and the
#     fault out of the log (alerts.jsonl rotates on its own), and rotation
#     counts what it removed.

load scan_helpers

setup_file() {
	scan_setup_file
}

teardown_file() {
	scan_teardown_file
}

setup() {
	e2e_setup
	OTHER_FAULTS="6 7 20 8 9 22"
	ALERTS=$LOG/alerts.jsonl
	LOADGEN=$(realpath "$PICKET_BUILD/src/loadgen/picket-load")
	# A watched tmpfs anybody may write to, as /tmp.
	W=$T/w
	mkdir -p "$W"
	mount -t tmpfs -o size=64m,mode=1777 evlog-e2e "$W"
	MOUNTS+=("$W")
	install -m 0644 "$DEFS/eicar.com" "$T/eicar.com"
}

# fs_policy [LINE...]: the scan test policy with the file monitor on $W and
# the process monitor (it names the user's processes), the network monitor off.
fs_policy() {
	scan_policy "monitor_file_copies_moves = true;" "monitor_process_execution = true;" \
		"device_flow_correlation = false;" "file_monitor = { mounts_include = [ \"$W\" ]; };" \
		"$@"
}

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# strict EXPR [FILE...]: EXPR in Python over the events of FILEs (default
# $EVENTS), read as bytes: fails unless every line is strict UTF-8 and a
# JSON object.  all_ev = the events in file order; raw(o, k) = the exact
# bytes of o[k] (from k + "_b64" when the value was not UTF-8); W = $W as
# bytes; name = $NAME as bytes.
strict() {
	local expr=$1
	shift
	[ $# -gt 0 ] || set -- "$EVENTS"
	"$PYTHON" -c '
import base64, json, os, sys
def raw(o, k):
    return base64.b64decode(o[k + "_b64"], validate=True) if k + "_b64" in o else o[k].encode()
all_ev = []
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                o = json.loads(line.decode("utf-8", "strict"))
            except ValueError as e:
                sys.exit("%s:%d: not strict UTF-8 JSON (%s): %r" % (path, n, e, line[:200]))
            if not isinstance(o, dict) or not all(k in o for k in ("seq", "time", "type")):
                sys.exit("%s:%d: not an event: %r" % (path, n, line[:200]))
            all_ev.append(o)
W = os.fsencode(os.environ["W"])
name = os.fsencode(os.environ.get("NAME", ""))
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))
' "$expr" "$@"
}

# The detections of $W/$NAME, as a count.
named_detections() {
	strict "len([e for e in all_ev if e['type'] == 'detection' and raw(e, 'path') == W + b'/' + name])" "$@"
}

named_detection_seen() {
	local n
	n=$(named_detections "$@") || return
	[ "$n" = 1 ]
}

@test "a file name with bytes that are not UTF-8, controls and a newline: strict UTF-8 JSON lines that name it exactly" {
	fs_policy
	scan_start
	export W NAME=$'x\xff\x01\nq\xc3\xa9\x1b[2J\xed\xa0\x80.com'
	as_nobody cp "$T/eicar.com" "$W/$NAME"
	wait_for named_detection_seen
	# Each file: every line strict, the detection once, exactly named.
	assert_eq "$(named_detections)" 1 "detections in events.jsonl"
	assert_eq "$(named_detections "$ALERTS")" 1 "detections in alerts.jsonl"
	assert_eq "$(strict "[(e['signature'], e['process']['uid'], e['process']['exe'], e['trigger']) for e in all_ev if e['type'] == 'detection']")" \
		"[[\"$EICAR_SIG\",65534,\"/usr/bin/cp\",\"close_write\"]]"
	# The rendition: valid text as it was, U+FFFD for each byte that is not,
	# the controls as JSON escapes of themselves.
	assert_eq "$(strict "[e['path'] == os.environ['W'] + '/x\ufffd\x01\nq\xe9\x1b[2J\ufffd\ufffd\ufffd.com' for e in all_ev if e['type'] == 'detection']")" \
		'[true]'
	# Written as escapes: no raw control byte inside a line.
	assert_eq "$(grep -c $'\x1b' "$EVENTS")" 0 "lines with a raw ESC"

	# picketctl: the JSON is as strict and as exact; the text form forges no line.
	ctl --json events -n 10000 >"$T/events.json"
	assert_eq "$("$PYTHON" -c '
import base64, json, os, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
print([base64.b64decode(e["path_b64"]) == os.fsencode(os.environ["W"] + "/") + os.fsencode(os.environ["NAME"])
       for e in d["events"] if e["type"] == "detection"])' "$T/events.json")" '[True]'
	ctl events -n 10000 >"$T/events.txt"
	assert_eq "$(grep -c '  detection ' "$T/events.txt")" 1 "detection lines"
	local line
	line=$(grep '  detection ' "$T/events.txt")
	assert_contains "$line" "path=\"$W/x"
	assert_contains "$line" ".com\" signature=$EICAR_SIG "
	assert_eq "$(grep -c $'\x1b' "$T/events.txt")" 0 "lines with a raw ESC"
	# A reply (an on-demand scan's summary, its last line) as well.
	ctl --json scan "$W" >"$T/scan.json" && st=0 || st=$?
	assert_eq "$st" 1 "exit status of picketctl scan"
	assert_eq "$("$PYTHON" -c '
import base64, json, os, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict").splitlines()[-1])
print([base64.b64decode(x["path_b64"]) == os.fsencode(os.environ["W"] + "/") + os.fsencode(os.environ["NAME"])
       for x in d["detections"]])' "$T/scan.json")" '[True]'
}

@test "a program named and run with bytes that are not UTF-8: its exec event is strict UTF-8 JSON with exe, comm and argv exact" {
	fs_policy
	start_scan_picketd
	export W NAME=$'t\xff\x01\nz'
	as_nobody cp /bin/true "$W/$NAME"
	as_nobody "$W/$NAME" $'arg\xfe\x02' ok
	local exe="raw(e['process'], 'exe') == W + b'/' + name"
	wait_for strict "[e for e in all_ev if e['type'] == 'exec' and $exe][0]"
	assert_eq "$(strict "[(e['process']['uid'], raw(e['process'], 'comm') == name, raw(e['process'], 'argv') == W + b'/' + name + b' arg\\xfe\\x02 ok') for e in all_ev if e['type'] == 'exec' and $exe]")" \
		'[[65534,true,true]]'
}

# alerts_py EXPR: strict EXPR over alerts.jsonl.
alerts_py() {
	strict "$1" "$ALERTS"
}

# rotation_consistent: what is missing from events.jsonl and .1 (seq 1 up to
# the last one written) is what status and the metrics file count as
# rotated, by class (the alerts among them are in alerts.jsonl), and
# alerts.jsonl lost nothing.
rotation_consistent() {
	local st
	st=$(ctl --json status) || return
	"$PYTHON" -c '
import json, sys
def seqs(p):
    with open(p, "rb") as f:
        return [json.loads(l)["seq"] for l in f]
status = json.loads(sys.argv[1])["event_log"]
present = set(seqs(sys.argv[2]) + seqs(sys.argv[2] + ".1"))
last = max(present)
alerts = set(seqs(sys.argv[3]))
missing = set(range(1, last + 1)) - present
missing_alerts = missing & alerts
want = {"activity": len(missing) - len(missing_alerts), "alert": len(missing_alerts)}
got = status["events"]["rotated"]
if got != want or status["alerts"]["rotated"]["alert"] != 0 or want["activity"] < 1000:
    sys.exit("rotated: status %s, files %s, alerts %s" % (got, want, status["alerts"]["rotated"]))
metrics = open(sys.argv[4]).read().splitlines()
for line in ["picket_events_rotated_total{log=\"events\",class=\"activity\"} %d" % want["activity"],
             "picket_events_rotated_total{log=\"events\",class=\"alert\"} %d" % want["alert"],
             "picket_events_rotated_total{log=\"alerts\",class=\"alert\"} 0"]:
    if line not in metrics:
        sys.exit("metrics: no line %s" % line)
' "$st" "$EVENTS" "$ALERTS" "$METRICS"
}

@test "a flood of short programs by an unprivileged user rotates neither the detection nor the fault away; rotation counts what it removed" {
	# Root's executions (other tests on this host) stay out: the log then
	# holds the flood and little else, and its counts can be compared.
	fs_policy "event_log = { max_bytes = 16384; keep = 1; };" "process_exclusion_uids = [ 0 ];"
	scan_start
	export W NAME=flood-eicar.com
	as_nobody cp "$T/eicar.com" "$W/$NAME"
	wait_for named_detection_seen
	chmod 0777 "$PREFIX/lib"
	wait_for fault_active 5
	chmod 0755 "$PREFIX/lib"
	wait_for fault_cleared 5

	# 3000 executions of /bin/true, about 750 KiB of exec events: events.jsonl
	# and its one rotated file hold 32 KiB.
	as_nobody "$LOADGEN" --count 3000 --execs max >"$T/load.json"
	assert_eq "$(jpy '[d["execs"], d["exec_failures"]]' <"$T/load.json")" "[3000,0]"
	# One ring buffer, read in order: once this exec is in the log, the
	# flood's are behind it.
	as_nobody /bin/true flood-over
	wait_for strict "[e for e in all_ev if e['type'] == 'exec' and e['process']['argv'] == '/bin/true flood-over'][0]" \
		"$EVENTS.1" "$EVENTS"
	# The flood did push the detection out of events.jsonl ...
	assert_eq "$(named_detections "$EVENTS.1" "$EVENTS")" 0 "detections left in events.jsonl"
	# ... not out of alerts.jsonl, which no activity reaches.
	assert_eq "$(named_detections "$ALERTS")" 1 "detections in alerts.jsonl"
	assert_eq "$(alerts_py "[e['type'] for e in all_ev if e.get('fault', {}).get('id') == 5]")" \
		'["fault_raised","fault_cleared"]'
	assert_eq "$(alerts_py "[e['type'] for e in all_ev if e['type'] in ('exec', 'fork', 'exit', 'flow', 'file_scan')]")" '[]'
	[ ! -e "$ALERTS.1" ] || fail "alerts.jsonl was rotated"
	wait_for rotation_consistent

	# picketctl events: the merged rings still hold the detection and the
	# fault, in seq order, behind the newest activity.
	ctl --json events -n 10000 >"$T/events.json"
	assert_eq "$(jpy '[e["type"] for e in d["events"] if e["type"] == "detection" or e.get("fault", {}).get("id") == 5]' <"$T/events.json")" \
		'["detection","fault_raised","fault_cleared"]'
	assert_eq "$(jpy 'all(a["seq"] < b["seq"] for a, b in zip(d["events"], d["events"][1:]))' <"$T/events.json")" true
	assert_eq "$(ctl --json events -n 1 | jpy 'd["events"][0]["type"]')" exec
	run -0 ctl status
	assert_match "$output" $'\nEvent log: events.jsonl: [0-9]+ bytes; rotated out: [0-9]+ activity, [0-9]+ alerts\n +alerts.jsonl: [0-9]+ bytes; rotated out: 0 alerts\n'
}
