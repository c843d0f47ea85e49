#!/usr/bin/env python3
"""compare.py — duet's main job: the side-by-side comparison of the styles.

Run it through the build (`ninja -C build-release compare`, or `bash .ci/quickstart`); by hand:

    python3 bench/compare.py --build-dir build-release --source-dir .

Part 1, samples. Every executable named samples/<scenario>_<style> in the build directory is one
scenario written in one style (samples/<scenario>/<style>.cpp). Nothing here lists them: a
scenario or style that lands later shows up by itself. For each scenario the outputs of its styles
are printed side by side, followed by whether they are identical across styles, whether they match
samples/<scenario>/expected.txt, and each style's run time (median wall time of --runs runs,
process start included).

Part 2, benchmarks. Every bench/bench_<name> executable in the build directory is run with
Google Benchmark's JSON output, and each benchmark family (the part of the name before the first
'/') becomes one table: time per operation, allocations per operation and the other counters, and
the ratio of each row's time to every baseline of the family (a row whose name has a '/'-separated
component starting with "baseline"; see bench/bench_util.hpp).

Exit status: 0 when every sample ran, the styles of each scenario agree and match expected.txt,
and every benchmark binary ran; 1 otherwise (the report says what failed).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time

SAMPLE_NAME = re.compile(r"^(?P<scenario>[A-Za-z0-9_]+)_(?P<style>[A-Za-z0-9]+)$")
STANDARD_BENCH_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
    "items_per_second", "bytes_per_second", "label", "error_occurred", "error_message",
    "aggregate_name", "aggregate_unit",
}
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def order_key(preferred):
    """Sort key: names listed in `preferred` first, in that order, then the rest alphabetically."""
    rank = {name: i for i, name in enumerate(preferred)}
    return lambda name: (rank.get(name, len(rank)), name)


def discover_samples(build_dir, scenario_order, style_order):
    """{scenario: {style: path}} for every samples/<scenario>_<style> executable."""
    sample_dir = os.path.join(build_dir, "samples")
    found = {}
    if not os.path.isdir(sample_dir):
        return found
    for entry in os.listdir(sample_dir):
        path = os.path.join(sample_dir, entry)
        m = SAMPLE_NAME.match(entry)
        if not m or not is_executable(path):
            continue
        found.setdefault(m.group("scenario"), {})[m.group("style")] = path
    ordered = {}
    for scenario in sorted(found, key=order_key(scenario_order)):
        styles = found[scenario]
        ordered[scenario] = {s: styles[s] for s in sorted(styles, key=order_key(style_order))}
    return ordered


def run_sample(path, runs, timeout):
    """Runs `path` `runs` times. Returns (stdout of the first run, problem or None, median ms)."""
    outputs, times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            proc = subprocess.run([path], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return "", f"timed out after {timeout} s", None
        times.append((time.perf_counter() - start) * 1e3)
        if proc.returncode != 0:
            return proc.stdout, (f"exited with status {proc.returncode}\n" + proc.stderr).rstrip(), None
        outputs.append(proc.stdout)
    problem = None
    if any(o != outputs[0] for o in outputs[1:]):
        problem = "output differs between runs of the same program (unstable output)"
    return outputs[0], problem, statistics.median(times)


def side_by_side(columns, width):
    """Lays out {title: text} as columns that fit in `width` characters, wrapping long lines."""
    titles = list(columns)
    n = len(titles)
    sep = " | "
    col = max(20, (width - len(sep) * (n - 1)) // n)
    wrapped = []
    for t in titles:
        lines = []
        for line in columns[t].splitlines() or [""]:
            lines.extend(textwrap.wrap(line, col, replace_whitespace=False)
                         or [""])
        wrapped.append(lines)
    out = [sep.join(t.ljust(col)[:col] for t in titles).rstrip(),
           sep.join("-" * col for _ in titles)]
    for i in range(max(len(w) for w in wrapped)):
        out.append(sep.join((w[i] if i < len(w) else "").ljust(col) for w in wrapped).rstrip())
    return "\n".join(out)


def compare_samples(args, width):
    samples = discover_samples(args.build_dir, args.scenarios, args.styles)
    failures = []
    print("=" * width)
    print("Samples: every scenario in every style that exists, side by side")
    print("=" * width)
    if not samples:
        print(f"no sample programs found in {os.path.join(args.build_dir, 'samples')} "
              "(build with -Dsamples=true)")
        return failures
    for scenario, styles in samples.items():
        results = {style: run_sample(path, args.runs, args.timeout) for style, path in styles.items()}
        print()
        print(f"## {scenario}  ({', '.join(styles)})")
        columns = {}
        for style, (out, problem, _) in results.items():
            columns[style] = out if problem is None else out + f"\n!! {problem}"
        print(side_by_side(columns, width))
        print()
        for style, (_, problem, _) in results.items():
            if problem:
                failures.append(f"{scenario}/{style}: {problem.splitlines()[0]}")
        outs = {style: r[0] for style, r in results.items() if r[1] is None}
        if len(styles) == 1:
            print(f"identical across styles: only one style so far ({next(iter(styles))})")
        elif len(outs) < len(styles):
            print("identical across styles: cannot tell (a style failed to run)")
        else:
            first = next(iter(outs))
            differing = [s for s, o in outs.items() if o != outs[first]]
            if differing:
                print(f"identical across styles: NO ({', '.join(differing)} differ from {first})")
                failures.append(f"{scenario}: {', '.join(differing)} differ from {first}")
            else:
                print("identical across styles: yes")
        expected_path = os.path.join(args.source_dir, "samples", scenario, "expected.txt")
        if not outs:
            print("matches expected.txt: cannot tell (no style ran)")
        elif os.path.isfile(expected_path):
            with open(expected_path, encoding="utf-8") as f:
                expected = f.read()
            bad = [s for s, o in outs.items() if o != expected]
            if bad:
                print(f"matches expected.txt: NO ({', '.join(bad)})")
                failures.append(f"{scenario}: {', '.join(bad)} differ from expected.txt")
            else:
                print("matches expected.txt: yes")
        else:
            print("matches expected.txt: no expected.txt yet")
        timing = ", ".join(f"{s} {r[2]:.1f} ms" if r[2] is not None else f"{s} -"
                           for s, r in results.items())
        print(f"run time (median of {args.runs}, wall, process start included): {timing}")
    return failures


def fmt_num(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.01 else f"{v:.2g}"


def render_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                       for i, c in enumerate(header)),
             "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r)))
    return "\n".join(lines)


def is_baseline(name):
    return any(part.startswith("baseline") for part in name.split("/")[1:])


def bench_tables(entries):
    """Formats Google Benchmark JSON entries as one table per family, with baseline ratios."""
    families = {}
    for e in entries:
        if e.get("run_type", "iteration") != "iteration" or e.get("error_occurred"):
            continue
        families.setdefault(e["name"].split("/")[0], []).append(e)
    out = []
    for family, rows in families.items():
        counters = []
        for e in rows:
            for k, v in e.items():
                if k not in STANDARD_BENCH_KEYS and isinstance(v, (int, float)) and k not in counters:
                    counters.append(k)
        baselines = [e for e in rows if is_baseline(e["name"])]
        header = ["benchmark", "real ns/op", "cpu ns/op"] + counters
        header += [f"x {b['name'].split('/', 1)[1]}" for b in baselines]
        table = []
        for e in rows:
            scale = TO_NS.get(e.get("time_unit", "ns"), 1.0)
            real, cpu = e["real_time"] * scale, e["cpu_time"] * scale
            row = [e["name"], fmt_num(real), fmt_num(cpu)]
            row += [fmt_num(e.get(c)) for c in counters]
            for b in baselines:
                base = b["real_time"] * TO_NS.get(b.get("time_unit", "ns"), 1.0)
                row.append(f"{real / base:.2f}" if base > 0 else "-")
            table.append(row)
        out.append(f"### {family}" + ("" if baselines else "  (no baseline in this family)"))
        out.append(render_table(header, table))
        out.append("")
    errors = [f"{e['name']}: {e.get('error_message', 'error')}" for e in entries
              if e.get("error_occurred")]
    return "\n".join(out), errors


def compare_benchmarks(args, width):
    bench_dir = os.path.join(args.build_dir, "bench")
    failures = []
    print()
    print("=" * width)
    print("Benchmarks: time and allocations per operation, ratios against each family's baseline")
    print("(ratio = row's real time / baseline's real time; allocs/op counts every operator new)")
    print("=" * width)
    binaries = []
    if os.path.isdir(bench_dir):
        binaries = sorted(os.path.join(bench_dir, f) for f in os.listdir(bench_dir)
                          if f.startswith("bench_") and is_executable(os.path.join(bench_dir, f)))
    if not binaries:
        print("no benchmark binaries found (Google Benchmark missing, or -Dbenchmarks=disabled)")
        return failures
    for exe in binaries:
        print()
        print(f"## {os.path.basename(exe)}")
        cmd = [exe, "--benchmark_format=json", f"--benchmark_min_time={args.bench_min_time}"]
        if args.bench_filter:
            cmd.append(f"--benchmark_filter={args.bench_filter}")
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=args.bench_timeout)
        except subprocess.TimeoutExpired:
            print(f"!! timed out after {args.bench_timeout} s")
            failures.append(f"{os.path.basename(exe)}: timed out")
            continue
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            data = None
        if proc.returncode != 0 or data is None:
            print(f"!! exited with status {proc.returncode}\n{proc.stderr.rstrip()}")
            failures.append(f"{os.path.basename(exe)}: exited with status {proc.returncode}")
            continue
        ctx = data.get("context", {})
        print(f"({ctx.get('num_cpus', '?')} cpus, {ctx.get('library_build_type', '?')} "
              f"Google Benchmark library)")
        text, errors = bench_tables(data.get("benchmarks", []))
        print(text)
        for e in errors:
            print(f"!! {e}")
            failures.append(f"{os.path.basename(exe)}: {e}")
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--scenarios", default="", help="comma-separated preferred scenario order")
    p.add_argument("--styles", default="explicit,dsl,fiber", help="comma-separated style order")
    p.add_argument("--runs", type=int, default=int(os.environ.get("DUET_COMPARE_RUNS", "3")))
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per sample run")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmark tables")
    p.add_argument("--bench-min-time", default=os.environ.get("DUET_BENCH_MIN_TIME", "0.2"),
                   help="Google Benchmark --benchmark_min_time (seconds)")
    p.add_argument("--bench-filter", default=os.environ.get("DUET_BENCH_FILTER", ""))
    p.add_argument("--bench-timeout", type=float, default=900.0, help="seconds per benchmark binary")
    args = p.parse_args()
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.styles = [s for s in args.styles.split(",") if s]
    args.runs = max(1, args.runs)
    width = min(200, max(80, shutil.get_terminal_size((160, 40)).columns))

    failures = compare_samples(args, width)
    if not args.no_bench and os.environ.get("DUET_COMPARE_NO_BENCH") != "1":
        failures += compare_benchmarks(args, width)

    print()
    if failures:
        print("comparison: FAILED")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("comparison: all samples agree across styles and match their expected output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
