#!/usr/bin/env python3
"""ab.py — one Google Benchmark binary from two builds, interleaved: the "ratio to the old build" check.

    python3 bench/ab.py OLD_BINARY NEW_BINARY [REPS] [benchmark flags...]

Runs OLD and NEW alternately REPS times (default 15; the order flips every round, so a drift in
the machine's load hits both alike), each with --benchmark_min_time=0.2 unless a flag overrides
it, and prints per benchmark the median of NEW / the median of OLD and the range of the REPS
pair ratios. Rows whose name contains PendingRss compare their bytes/op counter (resident bytes
per pending operation) instead of CPU time, and rows measured in real time (names ending in
/real_time, e.g. Skynet, whose work runs on pool threads) compare real time. Used for issue 11/12's "no benchmark slower than
1.05x its median before the change": build the old commit in release, e.g.
    git worktree add /tmp/old <rev> && meson setup /tmp/b-old /tmp/old --buildtype=release
    ninja -C /tmp/b-old bench/bench_core
    python3 bench/ab.py /tmp/b-old/bench/bench_core build-release/bench/bench_core 15
Nanosecond rows vary between processes on shared machines (one run of a binary may read 1.4 ns,
the next 2.6 ns), which is why the default is 15 alternations, not 5.
"""
import json
import statistics
import subprocess
import sys


def run(exe, extra):
    flags = ["--benchmark_format=json"]
    if not any(f.startswith("--benchmark_min_time") for f in extra):
        flags.append("--benchmark_min_time=0.2")
    out = subprocess.run([exe] + flags + extra, capture_output=True, text=True, check=True).stdout
    return [b for b in json.loads(out)["benchmarks"] if b.get("run_type") != "aggregate"]


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    old, new = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 15
    extra = sys.argv[4:] if len(sys.argv) > 3 and sys.argv[3].isdigit() else sys.argv[3:]
    res = {"old": {}, "new": {}}
    for r in range(reps):
        order = (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old))
        for tag, exe in order:
            for b in run(exe, extra):
                res[tag].setdefault(b["name"], []).append(b)
    for name, runs in res["new"].items():
        if name not in res["old"]:
            print(f"{name:52s} only in NEW")
            continue
        both = runs[0].keys() & res["old"][name][0].keys()
        key = "bytes/op" if "PendingRss" in name and "bytes/op" in both else "cpu_time"
        if key == "cpu_time" and name.endswith("/real_time"):
            key = "real_time"  # UseRealTime rows (Skynet): the work runs on pool threads
        o = [b[key] for b in res["old"][name]]
        w = [b[key] for b in runs]
        mo, mw = statistics.median(o), statistics.median(w)
        pairs = sorted(x / y for x, y in zip(w, o) if y)
        ratio = f"{mw / mo:5.2f}" if mo else "  n/a"
        spread = f"(pairs {pairs[0]:.2f}-{pairs[-1]:.2f})" if pairs else ""
        print(f"{name:52s} {key:8s} old {mo:10.2f} new {mw:10.2f} ratio {ratio} {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
