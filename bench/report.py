#!/usr/bin/env python3
"""report.py - the table of scan-bench.sh, from what it left in $W/out.

Reads, for each pass NAME in picket-cold clamd-cold picket-2nd clamd-2nd:
NAME.meas (the timings, JSON), NAME.out (picketctl --json scan's reply, or
clamdscan's output), NAME.clamdlog (clamd's "PATH: OK" and "PATH: NAME
FOUND" lines of the pass); the rest comes from the environment
scan-bench.sh exports.  Exits 1 when the two tools disagree on which files
are infected or on how many files they saw, or when the generated corpus
does not give the expected count.
"""
import datetime
import json
import os
import platform
import re
import sys

W = os.environ["W"]
OUT = os.path.join(W, "out")
N_FILES = int(os.environ["N_FILES"])
N_BYTES = int(os.environ["N_BYTES"])
N_EXPECTED = int(os.environ["N_EXPECTED"]) if os.environ.get("N_EXPECTED") else None
MB = N_BYTES / 1e6


def meas(name):
    with open(os.path.join(OUT, name + ".meas")) as f:
        return json.load(f)


def picket(name):
    with open(os.path.join(OUT, name + ".out")) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    reply = json.loads(lines[-1])
    if not reply.get("ok"):
        sys.exit("report: picket scan failed: %s" % reply.get("error"))
    s = reply["summary"]
    infected = {d["path"] for d in reply.get("detections", [])}
    return dict(files=s["files"], infected=s["infected"], errors=s["errors"],
                paths=infected, m=meas(name))


FOUND = re.compile(r"^(.*): (.+) FOUND$")


def clamd(name):
    """Files and detections from clamd's own log lines of the pass (LogClean:
    one line a file), the infected count also from clamdscan's summary."""
    ok = found = errors = 0
    paths, summary_infected = set(), None
    with open(os.path.join(OUT, name + ".clamdlog")) as f:
        for line in f:
            line = line.rstrip("\n")
            m = FOUND.match(line)
            if m:
                found += 1
                paths.add(m.group(1))
            elif line.endswith(": OK"):
                ok += 1
            elif line.endswith(" ERROR"):
                errors += 1
    with open(os.path.join(OUT, name + ".out")) as f:
        for line in f:
            if line.startswith("Infected files:"):
                summary_infected = int(line.split(":")[1])
    if summary_infected != found:
        print("report: clamdscan says %s infected, clamd logged %d FOUND"
              % (summary_infected, found), file=sys.stderr)
    return dict(files=ok + found, infected=found, errors=errors, paths=paths, m=meas(name))


runs = {n: (picket if n.startswith("picket") else clamd)(n)
        for n in ("picket-cold", "clamd-cold", "picket-2nd", "clamd-2nd")}


def fps(r):
    return r["files"] / r["m"]["wall"]


def mbps(r):
    return MB / r["m"]["wall"]


def row(label, r, note=""):
    return "%-19s %9.0f %8.1f %8.2f %9d%s" % (label, fps(r), mbps(r), r["m"]["wall"],
                                             r["infected"], note)


def ratio(label, p, c):
    return "%-19s %9.2f %8.2f %8.2f" % (label, fps(p) / fps(c), mbps(p) / mbps(c),
                                        p["m"]["wall"] / c["m"]["wall"])


pc, cc, p2, c2 = (runs[n] for n in ("picket-cold", "clamd-cold", "picket-2nd", "clamd-2nd"))
cores = os.cpu_count()
pagecache = pc["m"]["pagecache"]
print()
print("scan benchmark: %d files, %.1f MB (10^6 bytes), %d cores, page cache %s before each pass"
      % (N_FILES, MB, cores, pagecache))
print("  %s, kernel %s, corpus on %s, seed %s" % (
    datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), platform.release(),
    os.environ["FSTYPE"], os.environ["SEED"]))
print("  both scanners' temporary directories on %s (%s)" % (os.environ["SCANTMP_FS"],
                                                           os.environ["SCANTMP_BASE"]))
print("  load average %s before, %s after; picket-scand uid %s; clamd MaxThreads %s"
      % (os.environ["LOAD_BEFORE"], os.environ["LOAD_AFTER"], os.environ["SCAND_UID"],
         os.environ["CLAMD_THREADS_IN_USE"]))
print()
print("%-19s %9s %8s %8s %9s" % ("", "files/s", "MB/s", "wall s", "infected"))
print(row("picket  cold", pc))
print(row("clamd   cold", cc))
print(ratio("ratio picket/clamd", pc, cc) + "   (files/s, MB/s, wall)")
print(row("picket  2nd pass", p2, "  (picket's verdict cache: %d of %d files, %d scanned)"
          % (p2["m"]["cache_hits"], p2["files"], p2["m"]["scans"])))
print(row("clamd   2nd pass", c2, "  (libclamav's cache: every file read and hashed)"))
print(ratio("ratio picket/clamd", p2, c2))
print()
print("CPU seconds during each pass (user+sys):")
print("%-19s %8s %8s %8s %8s   %s" % ("", "client", "picketd", "scand", "clamd", "busy cores"))
for label, r, daemons in (("picket  cold", pc, ("picketd_cpu", "scand_cpu")),
                          ("clamd   cold", cc, ("clamd_cpu",)),
                          ("picket  2nd pass", p2, ("picketd_cpu", "scand_cpu")),
                          ("clamd   2nd pass", c2, ("clamd_cpu",))):
    m = r["m"]
    busy = (m["client_cpu"] + sum(m[k] for k in daemons)) / m["wall"]
    busy = "%.2f" % busy if m["wall"] >= 1 else "-"  # 10 ms ticks: noise below 1 s
    print("%-19s %8.2f %8.2f %8.2f %8.2f   %s" % (label, m["client_cpu"], m["picketd_cpu"],
                                                 m["scand_cpu"], m["clamd_cpu"], busy))
print("  (client: picketctl, or clamdscan, which walks the tree and opens the files itself)")
m = pc["m"]
idle = m["wall"] - m["scand_run"] - m["scand_wait"]
print("picket-scand in the cold pass: %.2f s on a CPU, %.2f s runnable but waiting for a CPU,"
      % (m["scand_run"], m["scand_wait"]))
print("  %.2f s asleep (%.0f us a file: waiting for its next file, or blocked in the kernel);"
      % (idle, idle / max(pc["files"], 1) * 1e6))
print("  picketd %.2f s on a CPU, %.2f s waiting for one" % (m["picketd_run"], m["picketd_wait"]))
print()
kb = lambda k: int(os.environ[k]) / 1024
print("memory after the run (MiB):      VmRSS   VmHWM")
print("  picketd                      %7.1f %7.1f" % (kb("RSS_PICKETD"), kb("HWM_PICKETD")))
print("  picket-scand                 %7.1f %7.1f" % (kb("RSS_SCAND"), kb("HWM_SCAND")))
print("  picket (both)                %7.1f" % (kb("RSS_PICKETD") + kb("RSS_SCAND")))
print("  clamd                        %7.1f %7.1f" % (kb("RSS_CLAMD"), kb("HWM_CLAMD")))
print("  ratio picket/clamd             %5.2f" % ((kb("RSS_PICKETD") + kb("RSS_SCAND")) /
                                                 kb("RSS_CLAMD")))
print()

bad = False
for label, p, c in (("cold", pc, cc), ("2nd pass", p2, c2)):
    if p["infected"] != c["infected"] or p["paths"] != c["paths"]:
        bad = True
        print("MISMATCH (%s): picket %d infected, clamd %d" % (label, p["infected"], c["infected"]))
        for x in sorted(p["paths"] - c["paths"]):
            print("  picket only: %s" % x)
        for x in sorted(c["paths"] - p["paths"]):
            print("  clamd only:  %s" % x)
    if p["files"] != c["files"] or p["files"] != N_FILES:
        bad = True
        print("MISMATCH (%s): files: picket %d, clamd %d, corpus %d"
              % (label, p["files"], c["files"], N_FILES))
    if p["errors"] or c["errors"]:
        print("errors (%s): picket %d, clamd %d" % (label, p["errors"], c["errors"]))
if N_EXPECTED is not None and pc["infected"] != N_EXPECTED:
    bad = True
    print("MISMATCH: %d infected, %d expected (the ClamAV test files and the EICAR copies)"
          % (pc["infected"], N_EXPECTED))
if not bad:
    print("infected files agree: %d, the same paths%s" % (
        pc["infected"], "" if N_EXPECTED is None else " (expected %d)" % N_EXPECTED))
sys.exit(1 if bad else 0)
