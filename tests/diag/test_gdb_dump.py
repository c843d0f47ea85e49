#!/usr/bin/env python3
"""test_gdb_dump.py — the gdb command duet-dump (tools/duet-gdb.py) against the in-process dump.

    test_gdb_dump.py GDB_SCRIPT TARGET WORKDIR [--live-only]

Runs TARGET (tests/diag/gdb_target.cpp) under gdb: the target writes its own
duet::diagnostics::dump_async() to a file and stops with SIGTRAP; gdb then takes a core with
`gcore`, prints duet-dump on the stopped process, and kills it. A second gdb loads only the
executable and the core file and prints duet-dump again (no process: nothing can be called).
A third gdb runs TARGET again without `source`: duet-dump must come from the script the library
embeds in the program (.debug_gdb_scripts, src/diag/embed_gdb_script.py), auto-loaded with
`-iex "set auto-load safe-path /"` so the run does not depend on the user's gdbinit.
Every gdb dump must list the same frames (style, method name, state, what each awaits) in the
same chains with the same counts as its process's in-process dump, and the fiber frames' stacks
must name diag_fiber_body from the fiber's own stack.

--live-only (the AddressSanitizer build, tests/diag/meson.build) checks live processes only:
gcore on an ASan process walks terabytes of shadow mappings for minutes, after which gdb cannot
read the process at all. The core-file half runs in the plain builds.

Exit 77 (skipped, with a message) only when gdb is not installed (.ci/install-deps lists it).
"""
import os
import shutil
import subprocess
import sys


def frames(text):
    """The dump's structure: header lines, chain counts and frame lines (stack lines left out)."""
    keep = []
    for line in text.splitlines():
        if line.startswith("       at "):
            continue
        if line.strip():
            keep.append(line.rstrip())
    return keep


def stacks(text):
    return [l.strip()[3:] for l in text.splitlines() if l.startswith("       at ")]


def run_gdb(args, what):
    r = subprocess.run(["gdb", "-nx", "-batch"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    return r.stdout


def extract_dump(out):
    """The duet-dump output inside gdb's: from the 'N chain(s), ' header to the last frame line."""
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if " suspended frame" in l and " chain" in l), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (lines[end].startswith("x") and lines[end].endswith("chain:")
                                or lines[end].startswith("  #") or lines[end].startswith("       at ")):
        end += 1
    return "\n".join(lines[start:end]) + "\n"


def main():
    if shutil.which("gdb") is None:
        print("SKIP: gdb is not installed (add it with .ci/install-deps); duet-dump cannot be tested")
        return 77
    script, target, work = sys.argv[1], sys.argv[2], sys.argv[3]
    live_only = sys.argv[4:] == ["--live-only"]
    os.makedirs(work, exist_ok=True)
    own = os.path.join(work, "in_process_dump.txt")
    own_auto = os.path.join(work, "in_process_dump_autoload.txt")
    core = os.path.join(work, "gdb_target.core")
    for p in (own, own_auto, core):
        if os.path.exists(p):
            os.remove(p)
    take_core = [] if live_only else ["-ex", "gcore " + core]
    live = run_gdb(["-ex", "source " + script, "-ex", "run", "-ex", "echo ==live==\\n",
                    "-ex", "duet-dump"] + take_core + ["-ex", "kill", "--args", target, own], "live")
    if not os.path.exists(own):
        print("FAIL: the target did not write its dump; gdb said:\n" + live)
        return 1
    if not live_only and not os.path.exists(core):
        print("FAIL: gcore wrote no core file; gdb said:\n" + live)
        return 1
    expected = open(own).read()
    live_dump = extract_dump(live.split("==live==", 1)[-1])
    checks = [("live process", live_dump, live, expected)]
    if not live_only:
        from_core = run_gdb(["-ex", "source " + script, "-ex", "echo ==core==\\n",
                             "-ex", "duet-dump", target, core], "core")
        checks.append(("core file", extract_dump(from_core.split("==core==", 1)[-1]), from_core, expected))
    # No `source`: the command must come from the program's own .debug_gdb_scripts entry.
    auto = run_gdb(["-iex", "set auto-load safe-path /", "-ex", "run", "-ex", "echo ==auto==\\n",
                    "-ex", "duet-dump", "-ex", "kill", "--args", target, own_auto], "auto-load")
    if not os.path.exists(own_auto):
        print("FAIL: the target did not write its dump (auto-load run); gdb said:\n" + auto)
        return 1
    checks.append(("live process with the auto-loaded script (no source)",
                   extract_dump(auto.split("==auto==", 1)[-1]), auto, open(own_auto).read()))
    ok = True
    for name, got, raw, expected in checks:
        if got is None:
            print("FAIL: duet-dump printed no dump on the %s; gdb said:\n%s" % (name, raw))
            ok = False
            continue
        if frames(got) != frames(expected):
            print("FAIL: duet-dump on the %s differs from the in-process dump.\n--- in process:\n%s"
                  "--- duet-dump:\n%s" % (name, expected, got))
            ok = False
        fiber_stack = stacks(got)
        if not any(s.startswith("diag_fiber_body(int, duet::Task<int>)") for s in fiber_stack):
            print("FAIL: the fiber frames' stacks in duet-dump (%s) do not name diag_fiber_body:\n%s"
                  % (name, got))
            ok = False
    if ok:
        print("duet-dump matches the in-process dump on the %s:\n%s"
              % (" and the ".join(c[0] for c in checks), checks[-1][1]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
