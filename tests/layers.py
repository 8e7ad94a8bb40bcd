#!/usr/bin/env python3
"""Check the layering of picketd (src/daemon/).

picketd is built in layers, one folder each under src/daemon/ (core, checks,
store, scan, monitor, health), with picketd.c, commands.c and picketd.h
directly in src/daemon/ as the top layer, "daemon".  A file includes its own
folder and lower layers only, so each layer can be built, read and unit
tested without the ones above it.  Faults are raised and cleared in one
layer, health/, so that every decision about the fault state is in one place.

What is checked, for every .c and .h file under src/daemon/:

  * each quoted include (#include "..."; <...> are system headers) is
    resolved as the compiler does with the include paths src/daemon and
    src/common: a bare name in the file's own folder, then src/daemon/, then
    src/common/, then as a generated BPF header (x.skel.h, vmlinux.h; monitor/
    only); a name with a slash under src/daemon/.  It must exist, must not be
    a "../" path, and must be in the file's own layer or one LAYERS allows;
  * a header of the file's own folder is included by its bare name;
  * internal headers (x_int.h, internal.h) are included from their own
    folder only;
  * picketd.h, the whole daemon context, is included only by picketd.c and
    commands.c;
  * faults_raise, faults_raise_remedy, faults_escalate, faults_clear,
    faults_set_cause and faults_set_applies are
    called only in health/ (and defined in core/faults.c, core/faults.h);
    comments and string literals do not count.

An include is reported once, for the first rule it breaks.

    python3 tests/layers.py [SOURCE_ROOT]   check the tree (default: this repository)
    python3 tests/layers.py --self-test     check the checker on a temporary tree

Exit status: 0 no violation, 1 violations (one "path:line: message" line
each), 2 usage error.  Standard library only.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

# The layers and what each may include besides its own folder.  This mirrors
# the README's architecture section ("one folder per layer"); change both
# together.
LAYERS = {
    "core":    {"common"},
    "checks":  {"common", "core"},
    "store":   {"common", "core"},
    "scan":    {"common", "core", "store"},
    "monitor": {"common", "core", "scan"},
    "health":  {"common", "core", "checks", "store", "scan", "monitor"},
    "daemon":  {"common", "core", "checks", "store", "scan", "monitor", "health"},
}

DAEMON = Path("src/daemon")
COMMON = Path("src/common")

# The daemon context and the only files that may include it.
CONTEXT_HEADER = DAEMON / "picketd.h"
CONTEXT_USERS = {DAEMON / "picketd.c", DAEMON / "commands.c"}

# Headers the build generates (bpftool): monitor/ only.
GENERATED_LAYER = "monitor"

# The fault registry's state changes and where they may appear.
FAULT_CALL = re.compile(r"\bfaults_(raise|raise_remedy|clear|escalate|set_cause|set_applies)\s*\(")
FAULT_LAYER = "health"
FAULT_DEFINERS = {DAEMON / "core/faults.c", DAEMON / "core/faults.h"}

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]*)"', re.MULTILINE)


# --- reading sources --------------------------------------------------------

def strip_comments(text, blank_strings=False):
    """Return text with comments (and, if asked, string and character
    literals' contents) replaced by spaces; newlines are kept, so line
    numbers and offsets stay right."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c, nxt = text[i], text[i + 1:i + 2]
        if c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(blank(text[i:end]))
            i = end
        elif c == "/" and nxt == "/":
            end = line_comment_end(text, i)
            out.append(blank(text[i:end]))
            i = end
        elif c in "\"'":
            end = literal_end(text, i)
            out.append(blank_literal(text[i:end]) if blank_strings else text[i:end])
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank(s):
    """s with every character but newlines replaced by a space."""
    return re.sub(r"[^\n]", " ", s)


def blank_literal(lit):
    """A string or character literal with its contents blanked."""
    closed = len(lit) >= 2 and lit[-1] == lit[0]
    return lit[0] + blank(lit[1:-1] if closed else lit[1:]) + (lit[-1] if closed else "")


def line_comment_end(text, i):
    """End of the // comment at i (a backslash-newline continues it)."""
    while True:
        end = text.find("\n", i)
        if end < 0:
            return len(text)
        if end > 0 and text[end - 1] == "\\":
            i = end + 1
            continue
        return end


def literal_end(text, i):
    """End (one past the closing quote) of the string or character literal
    at i; an unterminated literal ends at the end of its line."""
    quote, j = text[i], i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        elif text[j] == "\n":
            return j
        else:
            j += 1
    return len(text)


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def sources(root):
    """Every .c and .h file under src/daemon/, relative to root, sorted."""
    return sorted(p.relative_to(root)
                  for p in (root / DAEMON).rglob("*")
                  if p.suffix in (".c", ".h") and p.is_file())


# --- layers and include resolution -----------------------------------------

def layer_of(path):
    """The layer of a file (relative to the root): "common", a folder name
    under src/daemon/, or "daemon" for src/daemon/ itself."""
    if path.parts[:2] == COMMON.parts:
        return "common"
    rest = path.relative_to(DAEMON).parts
    return "daemon" if len(rest) == 1 else rest[0]


def is_generated(name):
    return name.endswith(".skel.h") or name == "vmlinux.h"


def resolve(root, src, name):
    """Where the include "name" in src leads: a path relative to root,
    "generated", or None when it resolves to nothing."""
    if "/" in name:
        candidates = [DAEMON / name]
    else:
        candidates = [src.parent / name, DAEMON / name, COMMON / name]
    for c in candidates:
        if (root / c).is_file():
            return c
    if "/" not in name and is_generated(name):
        return "generated"
    return None


def depends_on(layer, other):
    """Whether layer depends, directly or not, on other."""
    seen, todo = set(), [layer]
    while todo:
        for dep in LAYERS.get(todo.pop(), ()):
            if dep == other:
                return True
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return False


# --- the rules --------------------------------------------------------------

def bad_path(name):
    parts = name.split("/")
    if name.startswith("/") or "." in parts or ".." in parts:
        return 'a "../" path: write a bare name or a path from src/daemon/'
    return None


def layer_rule(src, target):
    """The message when src's layer may not include target's, else None."""
    mine, theirs = layer_of(src), layer_of(target)
    if theirs == mine or theirs in LAYERS.get(mine, ()):
        return None
    if theirs not in LAYERS and theirs != "common":
        return f"{theirs}/ is not a layer (tests/layers.py LAYERS)"
    if depends_on(theirs, mine):
        why = "a higher layer"
    else:
        why = "not one of its dependencies: " + ", ".join(sorted(LAYERS[mine]))
    return f"{mine} may not include {theirs} ({why})"


def own_folder_rule(src, name, target):
    if "/" in name and target.parent == src.parent:
        return f'own folder\'s header: write "{target.name}"'
    return None


def internals_rule(src, target):
    internal = target.name.endswith("_int.h") or target.name == "internal.h"
    if internal and target.parent != src.parent:
        return "a sibling's internals"
    return None


def context_rule(src, target):
    if target == CONTEXT_HEADER and src not in CONTEXT_USERS:
        return "only picketd.c and commands.c see the daemon context"
    return None


def check_include(root, src, name):
    """The first rule the include "name" in src breaks, or None."""
    msg = bad_path(name)
    if msg:
        return msg
    target = resolve(root, src, name)
    if target is None:
        return "does not exist"
    if target == "generated":
        if layer_of(src) != GENERATED_LAYER:
            return f"a generated BPF header: only {GENERATED_LAYER}/ includes it"
        return None
    return (context_rule(src, target)
            or layer_rule(src, target)
            or own_folder_rule(src, name, target)
            or internals_rule(src, target))


def check_faults(src, code):
    """(line, message) for each fault state change outside health/."""
    if layer_of(src) == FAULT_LAYER or src in FAULT_DEFINERS:
        return []
    return [(line_of(code, m.start()), "raises or clears a fault outside health/")
            for m in FAULT_CALL.finditer(code)]


def check_file(root, src):
    """(number of quoted includes, [(line, message)]) for one file."""
    text = (root / src).read_text(encoding="utf-8", errors="replace")
    found = []
    if layer_of(src) not in LAYERS:
        found.append((1, f"{layer_of(src)}/ is not a layer (tests/layers.py LAYERS)"))
    includes = list(INCLUDE.finditer(strip_comments(text)))
    for m in includes:
        msg = check_include(root, src, m.group(1))
        if msg:
            found.append((line_of(text, m.start()), f'includes "{m.group(1)}": {msg}'))
    found += check_faults(src, strip_comments(text, blank_strings=True))
    return len(includes), found


def check_tree(root):
    """(files, includes, ["path:line: message", ...]) for the tree at root."""
    files, n_includes, violations = sources(root), 0, []
    for src in files:
        n, found = check_file(root, src)
        n_includes += n
        violations += [f"{src.as_posix()}:{line}: {msg}" for line, msg in sorted(found)]
    return len(files), n_includes, violations


def run(root):
    if not (root / DAEMON).is_dir():
        print(f"layers: {root / DAEMON}: no such directory", file=sys.stderr)
        return 2
    files, includes, violations = check_tree(root)
    for v in violations:
        print(v)
    if violations:
        print(f"layers: {files} files, {includes} includes, "
              f"{len(violations)} violation{'s' if len(violations) != 1 else ''}",
              file=sys.stderr)
        return 1
    print(f"layers: {files} files, {includes} includes, no violation")
    return 0


# --- the self-test ----------------------------------------------------------

# A tree that keeps every rule: own folder by bare name, src/common, lower
# layers by path, generated headers in monitor/, fault calls in health/ and
# in the registry itself, and fault calls in comments and strings.
GOOD = {
    "src/common/log.h": "#pragma once\n",
    "src/daemon/core/faults.h": "#pragma once\n#include \"log.h\"\n"
                                "int faults_raise(int id);\nint faults_clear(int id);\n",
    "src/daemon/core/faults.c": "#include \"faults.h\"\n"
                                "int faults_clear(int id) { return faults_raise(id); }\n",
    "src/daemon/core/loop.h": "#pragma once\n",
    "src/daemon/core/loop_int.h": "#pragma once\n",
    "src/daemon/core/good.c": (
        "#include <stdio.h>\n"
        "#include \"loop.h\"\n"
        "#include \"loop_int.h\"\n"
        "#include \"log.h\"\n"
        "/* faults_raise(1) would be wrong here,\n"
        "   but this is a comment */\n"
        "// faults_clear(1) too\n"
        "static const char *s = \"faults_escalate(\";\n"
        "static const char q = '\"';\n"
        "int good(void) { return 0; } // \"not a string\n"),
    "src/daemon/scan/scan.h": "#pragma once\n#include \"core/loop.h\"\n",
    "src/daemon/scan/scan_int.h": "#pragma once\n",
    "src/daemon/monitor/mon.h": "#pragma once\n#include \"scan/scan.h\"\n",
    "src/daemon/monitor/mon.c": "#include \"mon.h\"\n#include \"vmlinux.h\"\n"
                                "#include \"mon.skel.h\"\n",
    "src/daemon/health/health.c": "#include \"core/faults.h\"\n#include \"monitor/mon.h\"\n"
                                  "void tick(void) { faults_raise(1); faults_clear (2); }\n",
    "src/daemon/picketd.h": "#pragma once\n#include \"monitor/mon.h\"\n",
    "src/daemon/picketd.c": "#include \"picketd.h\"\n#include \"health/health.h\"\n",
    "src/daemon/commands.c": "#include \"picketd.h\"\n",
    "src/daemon/health/health.h": "#pragma once\n",
}

# One file per broken rule: (path, text, line, what the message says).
BAD = [
    ("src/daemon/core/bad_layer.c", '#include "loop.h"\n#include "monitor/mon.h"\n',
     2, '"monitor/mon.h": core may not include monitor (a higher layer)'),
    ("src/daemon/checks/bad_peer.c", '#include "scan/scan.h"\n',
     1, "checks may not include scan (not one of its dependencies: common, core)"),
    ("src/daemon/core/bad_missing.c", '#include "nowhere.h"\n',
     1, '"nowhere.h": does not exist'),
    ("src/daemon/core/bad_dotdot.c", '#include "../../common/log.h"\n',
     1, 'a "../" path'),
    ("src/daemon/scan/bad_skel.c", '#include "scan.h"\n#include "mon.skel.h"\n',
     2, "a generated BPF header: only monitor/ includes it"),
    ("src/daemon/scan/bad_own.c", '#include "scan/scan.h"\n',
     1, 'own folder\'s header: write "scan.h"'),
    ("src/daemon/health/bad_internals.c", '#include "scan/scan_int.h"\n',
     1, "a sibling's internals"),
    ("src/daemon/health/bad_context.c", '#include "picketd.h"\n',
     1, "only picketd.c and commands.c see the daemon context"),
    ("src/daemon/scan/bad_fault.c",
     '#include "core/faults.h"\n/* faults_raise(1)\n */\nvoid f(void)\n{\n\tfaults_clear (1);\n}\n',
     6, "raises or clears a fault outside health/"),
    ("src/daemon/util/bad_folder.c", "int x;\n",
     1, "util/ is not a layer"),
]


def write_tree(root, files):
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def run_checker(root):
    """Run this script on root as a user would: (exit status, stdout lines)."""
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(root)],
                       capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def self_test():
    checks, failures = [], []

    def expect(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        checks.append(what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, GOOD)
        rc, out = run_checker(root)
        expect(rc == 0 and len(out) == 1 and out[0].endswith("includes, no violation"),
               f"the good tree passes (exit {rc}: {out})")

        write_tree(root, {path: text for path, text, _, _ in BAD})
        rc, out = run_checker(root)
        expect(rc == 1, f"the bad tree fails (exit {rc})")
        for path, _, line, says in BAD:
            hits = [o for o in out if o.startswith(f"{path}:{line}: ") and says in o]
            expect(len(hits) == 1, f"{path}:{line}: ... {says}")
        reported = {o.split(":", 1)[0] for o in out}
        expect(not reported & set(GOOD), f"no good file is reported ({sorted(reported & set(GOOD))})")
        expect(len(out) == len(BAD), f"one line per bad case ({len(out)} lines, {len(BAD)} cases)")
        if failures:
            print("\n".join(["checker output:"] + out))

    print(f"layers self-test: {len(failures)} of {len(checks)} checks failed"
          if failures else f"layers self-test: {len(checks)} checks pass")
    return 1 if failures else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: layers.py [SOURCE_ROOT] | --self-test", file=sys.stderr)
        return 2
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    return run(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
