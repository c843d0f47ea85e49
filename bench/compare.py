#!/usr/bin/env python3
"""compare.py — duet's main job: the three styles (explicit, dsl, fiber) and their peers, side by side.

Run it through the build (`ninja -C build-release compare`, or `bash .ci/quickstart`); by hand:

    python3 bench/compare.py --build-dir build-release --source-dir .
    python3 bench/compare.py --build-dir build-release --source-dir . --quick
    python3 bench/compare.py ... --scenarios when_all,skynet --styles explicit,fiber

Part 1, samples. Every executable samples/<scenario>_<style> in the build directory is one
scenario written in one style (samples/<scenario>/<style>.cpp); nothing here lists them, so a
scenario or style that lands later shows up by itself. When the styles of a scenario print the
same text and it matches samples/<scenario>/expected.txt, the output is printed once; otherwise
a diff says what differs.

Part 2, benchmarks. Every bench/bench_<name> executable is run family by family (one process per
family, so a crash loses that family only), with --repetitions repetitions interleaved at random
(Google Benchmark's --benchmark_enable_random_interleaving; not for the SEQUENTIAL families).
First comes the summary: one row per operation (SUMMARY_ROWS below), one column per style and
per peer, each cell the median of the repetitions with its min-max and its ratio to explicit,
and below it one line per row naming the winner and why. Then (full runs) every family as a
table, each row's median time as a ratio to the family's baseline (FAMILY_BASELINES below).

Files. <build-dir>/compare/results.json and results.csv hold every figure with every
repetition; <build-dir>/compare/charts/<row>.svg and .png draw each summary row (bars: medians,
whiskers: min-max; needs python3-matplotlib). The report ends with their paths.

Options. --quick runs each sample once and only the benchmarks the summary needs, briefly and at
their smallest sizes (under a minute). --scenarios NAMES keeps the sample scenarios and summary
rows named (row ids as printed in the summary, e.g. skynet, pending_bytes); --styles NAMES keeps
those styles (peers stay beside them). With a filter, only the summary's benchmarks run.
--all-sizes adds the HEAVY benchmarks a default run leaves out (a million unguarded fibers).

Part 3, I/O (full runs only: --quick and --no-io skip it, --io-only runs nothing else). The
keep-alive "hello" HTTP server written on each model (bench/io/io_bench.py's SERVERS: Boost.Asio
callbacks, Boost.Fiber over Asio, a C epoll loop as the floor, and duet's styles where built) is
loaded with wrk at 100 and 10,000 connections: requests/s (median, min-max, ratio to Asio and to
the floor), p50/p99 latency, resident bytes per idle connection; <out-dir>/io.json holds every run.

Exit status: 0 when every sample ran, agreed across styles and matched expected.txt, and every
benchmark ran; 1 otherwise (the report lists each failure; one failure hides nothing else);
2 for bad options.

Adding a benchmark to the comparison (e.g. bench_scheduler, issue 15):
  * Name benchmarks Family/case[/args] (bench/bench_util.hpp). A family whose name has two
    levels (Timer/Workload/Heap) goes in FAMILY_DEPTH.
  * Its baseline: a case named baseline* or *_baseline, or `explicit`, is recognised; otherwise
    add the family to FAMILY_BASELINES ({"ChainedPost": "asio"}).
  * A peer (another library doing the same job) gets a column: map its case name to a column
    title in COLUMNS ({"asio": "Boost.Asio"}).
  * A summary row is one Row(...) in SUMMARY_ROWS: the binary, a regex over benchmark names
    whose group `col` names the column (and optional group `variant` makes one row per value,
    e.g. per worker count), the metric and unit, and the reason each column can win.
"""
import argparse
import csv
import difflib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

# ---- the tables that drive the comparison ------------------------------------------------------

# COLUMNS — benchmark case name -> summary column title. Styles first, then duet's style-free
# rows, then reference implementations and peers, in this order.
COLUMNS = {
    "explicit": "explicit",
    "dsl": "dsl",
    "fiber": "fiber",
    "duet": "duet",
    "baseline": "baseline",
    "boost_context_raw": "Boost.Context",
    "boost_fiber": "Boost.Fiber",
    "asio": "Boost.Asio",
}
STYLE_COLUMNS = ("explicit", "dsl", "fiber")

# FAMILY_DEPTH — families named with two levels before the case.
FAMILY_DEPTH = {"Sum2": 2, "Sum2Pooled": 2, "TryFinally": 2, "Timer": 2, "VersionCheck": 2}

# FAMILY_BASELINES — the baseline case of families without a baseline*/explicit case.
FAMILY_BASELINES = {
    "Suspending": "Task",
    "SyncCompletion": "baseline_noinline_call",
    "Timer/ScheduleCancel": "Multimap",
    "Timer/Workload": "Heap",
    "VersionCheck/Core": "unchecked",
    "VersionCheck/ValueTask": "unchecked",
    "ChainedPost": "asio",
    "ExternalPost": "asio",
}

# Google Benchmark's own name suffixes, not part of the family/case/args.
RUN_SUFFIX = re.compile(r"^(real_time|manual_time|process_time|iterations:\d+|repeats:\d+|"
                        r"min_time:[0-9.e+-]+s?|threads:\d+)$")


@dataclass
class Row:
    """One summary row (or one per `variant` value). `pattern` is matched against the whole
    benchmark name without Google Benchmark's suffixes; its group `col` is a COLUMNS key."""
    id: str
    title: str                  # "{variant}" is replaced by the variant, e.g. "10k"
    binary: str                 # bench_<name>
    pattern: str
    metric: str                 # "time" (real time) or a counter name ("bytes/op", ...)
    unit: str                   # printed unit; "ns/op", "ms", "bytes", "allocs/op", "M items/s"
    scale: float = 1.0          # value in the unit = metric (ns for "time") * scale
    better: str = "lower"       # or "higher"
    baseline: str = "explicit"  # the ratio's denominator column (case name)
    quick: str = ""             # regex of the variants --quick runs ("" = all; "-" = none)
    quick_cols: tuple = ()      # the columns --quick runs (empty: all)
    why: dict = field(default_factory=dict)  # winning column -> reason
    cols: dict = field(default_factory=dict)  # matched `col` -> column (COLUMNS key) if renamed

    def column(self, match):
        col = match.group("col")
        return self.cols.get(col, col)


NS = 1.0
MS = 1e-6
SUMMARY_ROWS = [
    Row("await_completed", "await a completed Task<int>", "bench_fiber",
        r"AwaitCompleted/(?P<col>explicit|dsl|fiber)", "time", "ns/op", NS,
        why={"explicit": "a completed await is a status check and a copy inside move_next",
             "dsl": "the macros expand to the explicit switch: the same status check and copy",
             "fiber": "await() on a completed task returns at once: no switch, no registration"}),
    Row("suspend_resume", "suspend and resume once", "bench_fiber",
        r"SuspendResume/(?P<col>explicit|dsl|fiber|boost_context_raw)", "time", "ns/op", NS,
        why={"explicit": "a resumption is one indirect call of move_next on the box",
             "dsl": "the same indirect call of move_next as explicit",
             "fiber": "two stack switches (out and back in) instead of a move_next call",
             "boost_context_raw": "a bare stack switch: no task, no continuation, no context"}),
    Row("create_finish", "create and finish (completes at once)", "bench_fiber",
        r"CreateFinish/(?P<col>explicit|dsl|fiber|boost_context_raw)", "time", "ns/op", NS,
        why={"explicit": "a method that completes synchronously runs move_next in place and "
                         "stores the result: no stack to take or switch to",
             "dsl": "the same move_next in place as explicit",
             "fiber": "a pooled stack and two switches, against the stackless styles' "
                      "in-place move_next",
             "boost_context_raw": "a bare fiber on a pooled stack: no task or control block"}),
    Row("create_finish_allocs", "allocations, create and finish", "bench_fiber",
        r"CreateFinish/(?P<col>explicit|dsl|fiber|boost_context_raw)", "allocs/op", "allocs/op",
        why={"explicit": "a synchronous completion needs only the task's shared state",
             "dsl": "the same allocation as explicit",
             "fiber": "the control block comes from a per-thread cache, the stack from the pool",
             "boost_context_raw": "the fiber record lives on its pooled stack"}),
    Row("pending_bytes", "resident bytes per pending operation, {variant} pending", "bench_fiber",
        r"PendingRss/(?P<col>explicit|dsl|fiber)/(?P<variant>\d+)", "bytes/op", "bytes",
        quick=r"10000",
        why={"explicit": "a pending method is its box (the state machine's fields), not a stack",
             "dsl": "a pending method is its box, as explicit",
             "fiber": "a pending fiber is one touched stack page plus its control block"}),
    Row("skynet", "skynet 1M (depth-first)", "bench_skynet",
        r"Skynet/(?P<col>explicit|dsl|fiber|boost_fiber)", "time", "ms", MS,
        quick_cols=STYLE_COLUMNS,  # Boost.Fiber's million fresh stacks take seconds a run
        why={"explicit": "each call is one box allocation and a move_next, no stack switch",
             "dsl": "the same boxes and move_next calls as explicit",
             "fiber": "each call takes a pooled stack and switches in and out instead of "
                      "allocating a box",
             "boost_fiber": "Boost.Fiber schedules each fiber and passes results through "
                            "channels"}),
    Row("post", "post to the thread pool and run", "bench_core",
        r"Post/(?P<col>thread_pool_existing_continuation|baseline_mutex_deque)", "time",
        "ns/op", NS, baseline="baseline",
        cols={"thread_pool_existing_continuation": "duet", "baseline_mutex_deque": "baseline"},
        quick="-",  # wake-up latency dominates the few iterations a quick run allows
        why={"duet": "the work item is the intrusive continuation: a post never allocates",
             "baseline": "a std::deque under a mutex (the baseline): no hand-off to a worker"}),
    # bench_scheduler (issue 15): rows per worker count; they appear once that binary is built.
    Row("chained_post", "chained post, {variant} workers", "bench_scheduler",
        r"ChainedPost/(?P<col>duet|asio)/(?P<variant>\d+)", "items_per_second", "M items/s",
        1e-6, better="higher", baseline="asio", quick=r"1|2",
        why={"duet": "a per-worker LIFO slot and run queue keep each chain on one worker",
             "asio": "one locked queue per pool"}),
    Row("external_post", "external post, {variant} workers", "bench_scheduler",
        r"ExternalPost/(?P<col>duet|asio)/(?P<variant>\d+)", "items_per_second", "M items/s",
        1e-6, better="higher", baseline="asio", quick=r"2",
        why={"duet": "posts from outside go to one injection queue the workers drain in batches",
             "asio": "one locked queue per pool"}),
    Row("skynet_scheduled", "skynet 1M, every node scheduled, {variant} workers",
        "bench_scheduler", r"Skynet/(?P<col>explicit|dsl|fiber|boost_fiber)/(?P<variant>\d+)",
        "time", "ms", MS, quick=r"2",
        why={"explicit": "a node is a box and a post; no stack",
             "dsl": "the same boxes and posts as explicit",
             "fiber": "a node is a pooled stack and two switches per hop",
             "boost_fiber": "work-stealing fibers with 16 KiB stacks"}),
]

# DERIVED — ratios between two cells that answer a question of their own.
# (title, binary, numerator, denominator, metric, unit, scale, runs in --quick)
DERIVED = [
    ("guard page cost, create and finish: fiber / fiber_unguarded", "bench_fiber",
     "CreateFinish/fiber", "CreateFinish/fiber_unguarded", "time", "ns/op", NS, True),
    ("guard page cost, 100k suspended fibers: resident bytes, fiber / fiber_unguarded",
     "bench_fiber", "PendingRss/fiber/100000", "PendingRss/fiber_unguarded/100000",
     "bytes/op", "bytes", 1.0, False),
    ("guard page cost, creating 100k suspended fibers: fiber / fiber_unguarded", "bench_fiber",
     "PendingRss/fiber/100000", "PendingRss/fiber_unguarded/100000", "create_ns/op",
     "ns/op", 1.0, False),
    ("guard page cost, 1M suspended fibers: resident bytes, fiber / fiber_unguarded",
     "bench_fiber", "PendingRss/fiber/1000000", "PendingRss/fiber_unguarded/1000000",
     "bytes/op", "bytes", 1.0, False),
]

# HEAVY — benchmarks a default run leaves out (--all-sizes runs them): each repetition of a
# million unguarded suspended fibers costs as long as the guarded row beside it (about a minute
# where a first touch of a page exits to the hypervisor, as on this project's machines), and the
# guard's cost in memory shows at 100k already.
HEAVY = {"bench_fiber": [r"PendingRss/fiber_unguarded/1000000"]}

# SEQUENTIAL — families whose repetitions must not be interleaved: their set-up is cached from
# one repetition to the next (bench_timer's Workload warms a million timers once per size).
SEQUENTIAL = {"bench_timer": ["Timer/Workload"]}

# Counters whose value is a count: near-zero values are rounded to 0 (and the report says so).
COUNT_METRICS = {"allocs/op"}
COUNT_EPSILON = 0.005

SAMPLE_NAME = re.compile(r"^(?P<scenario>[A-Za-z0-9_]+)_(?P<style>[A-Za-z0-9]+)$")
STANDARD_BENCH_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
    "items_per_second", "bytes_per_second", "label", "error_occurred", "error_message",
    "aggregate_name", "aggregate_unit",
}
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# ---- small helpers ---------------------------------------------------------------------------

def is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def order_key(preferred):
    """Sort key: names listed in `preferred` first, in that order, then the rest alphabetically."""
    rank = {name: i for i, name in enumerate(preferred)}
    return lambda name: (rank.get(name, len(rank)), name)


def split_list(text):
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def regex_escape(text):
    """Escapes `text` for Google Benchmark's filter (POSIX extended / ECMAScript regex)."""
    return re.sub(r"([.^$|()\[\]{}*+?\\])", r"\\\1", text)


def fmt_num(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_variant(v):
    """10000 -> 10k, 1000000 -> 1M; other text unchanged."""
    if re.fullmatch(r"\d+", v or ""):
        n = int(v)
        for div, suffix in ((1_000_000, "M"), (1000, "k")):
            if n >= div and n % div == 0:
                return f"{n // div}{suffix}"
    return v


def render_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                         for i, c in enumerate(r)).rstrip()
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


# ---- benchmark names and results ------------------------------------------------------------

def clean_name(name):
    """The benchmark name without Google Benchmark's run suffixes (/iterations:1, /real_time)."""
    parts = [p for p in name.split("/") if not RUN_SUFFIX.match(p)]
    return "/".join(parts)


def split_name(name):
    """(family, case, args) of a cleaned benchmark name, by FAMILY_DEPTH (default 1)."""
    parts = clean_name(name).split("/")
    depth = FAMILY_DEPTH.get(parts[0], 1)
    depth = min(depth, max(1, len(parts) - 1))
    family = "/".join(parts[:depth])
    case = parts[depth] if len(parts) > depth else ""
    args = "/".join(parts[depth + 1:])
    return family, case, args


def is_baseline_case(family, case):
    if FAMILY_BASELINES.get(family) == case:
        return True
    if family in FAMILY_BASELINES:
        return False
    return case.startswith("baseline") or case.endswith("_baseline") or case == "explicit"


@dataclass
class Result:
    """Every repetition of one benchmark: {metric: [values]}; "time" is real time in ns."""
    binary: str
    name: str
    values: dict = field(default_factory=dict)
    label: str = ""
    error: str = ""
    wall: bool = False  # "time" is wall time (else the benchmark thread's CPU time)

    def add(self, metric, value):
        self.values.setdefault(metric, []).append(value)

    def stats(self, metric):
        vals = self.values.get(metric)
        if not vals:
            return None
        return statistics.median(vals), min(vals), max(vals), len(vals)


def parse_benchmark_json(binary, data):
    """{cleaned name: Result} from Google Benchmark's JSON output (iteration runs only;
    aggregates are recomputed from the repetitions)."""
    results = {}
    for e in data.get("benchmarks", []):
        if e.get("run_type", "iteration") != "iteration":
            continue
        name = clean_name(e.get("run_name") or e["name"])
        r = results.setdefault(name, Result(binary, name))
        if e.get("error_occurred"):
            r.error = e.get("error_message", "error")
            continue
        if e.get("label"):
            r.label = e["label"]
        scale = TO_NS.get(e.get("time_unit", "ns"), 1.0)
        # "time" is what the benchmark chose to be timed by: wall time when it asked for it
        # (UseRealTime/UseManualTime: other threads do the work), else the CPU time of the
        # benchmark thread, which a busy shared machine does not inflate.
        raw = (e.get("run_name") or e["name"]).split("/")
        r.wall = "real_time" in raw or "manual_time" in raw
        r.add("time", e["real_time" if r.wall else "cpu_time"] * scale)
        r.add("real_time", e["real_time"] * scale)
        r.add("cpu_time", e["cpu_time"] * scale)
        for k, v in e.items():
            if k in STANDARD_BENCH_KEYS and k != "items_per_second":
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                r.add(k, float(v))
    return results


def salvage_json(text):
    """Google Benchmark's JSON from a process that died midway: cut after the last complete run
    and close the document. None when nothing is recoverable."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    cut = text.rfind("\n    },")
    if cut < 0:
        cut = text.rfind("\n    }")
    if cut < 0:
        return None
    try:
        return json.loads(text[:cut] + "\n    }\n  ]\n}\n")
    except json.JSONDecodeError:
        return None


# ---- running the benchmarks ------------------------------------------------------------------

def list_benchmarks(exe, timeout):
    proc = subprocess.run([exe, "--benchmark_list_tests=true"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"--benchmark_list_tests exited with status {proc.returncode}: "
                           f"{proc.stderr.strip()[:300]}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def wanted_names(binary, names, rows, args):
    """The benchmark names of `binary` to run: all (less HEAVY), or only those the summary
    needs."""
    if not args.all_sizes:
        heavy = HEAVY.get(binary, [])
        names = [n for n in names if not any(re.fullmatch(h, clean_name(n)) for h in heavy)]
    if not args.summary_only:
        return names
    keep = []
    for n in names:
        for row in rows:
            if row.binary != binary:
                continue
            m = re.fullmatch(row.pattern, clean_name(n))
            if not m:
                continue
            variant = m.groupdict().get("variant") or ""
            if args.quick and row.quick and (row.quick == "-" or not re.fullmatch(row.quick, variant)):
                continue
            if args.quick and row.quick_cols and row.column(m) not in row.quick_cols:
                continue
            if not column_allowed(row.column(m), row, args):
                continue
            keep.append(n)
            break
    for _title, b, num, den, *_rest, quick in DERIVED:
        if b == binary and (quick or not args.quick) and not args.styles and not args.scenarios:
            keep += [n for n in names if clean_name(n) in (num, den) and n not in keep]
    return keep


def column_allowed(col, row, args):
    if not args.styles:
        return True
    if col in STYLE_COLUMNS:
        return col in args.styles
    return True  # peers and baselines stay beside the kept styles


def run_binary(exe, args, rows, log):
    """Runs one bench binary family by family. Returns ({name: Result}, [failure texts])."""
    binary = os.path.basename(exe)
    failures = []
    try:
        names = list_benchmarks(exe, args.bench_timeout)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        return {}, [f"{binary}: {e}"]
    names = wanted_names(binary, names, rows, args)
    families = {}
    for n in names:
        families.setdefault(split_name(n)[0], []).append(n)
    results = {}
    for family, members in families.items():
        flt = "^(" + "|".join(regex_escape(n) for n in members) + ")$"
        cmd = [exe, "--benchmark_format=json", f"--benchmark_filter={flt}",
               f"--benchmark_repetitions={args.repetitions}",
               f"--benchmark_min_time={args.bench_min_time}"]
        if family not in SEQUENTIAL.get(binary, []):
            cmd.append("--benchmark_enable_random_interleaving=true")
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=args.bench_timeout)
            out, err, status = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, status = f"timed out after {args.bench_timeout:.0f} s", None
        log(f"  {binary} {family}: {len(members)} benchmarks x {args.repetitions} in "
            f"{time.perf_counter() - start:.1f} s")
        data = salvage_json(out)
        got = parse_benchmark_json(binary, data) if data else {}
        results.update(got)
        for name, r in got.items():
            if r.error:
                failures.append(f"{binary} {name}: {r.error}")
        if status != 0:
            what = err if status is None else f"exited with status {status}"
            tail = "" if status is None else ": " + (err.strip().splitlines() or [""])[-1][:300]
            missing = [clean_name(n) for n in members if clean_name(n) not in got]
            failures.append(f"{binary} {family}: {what}{tail}"
                            + (f" (no result for {', '.join(missing)})" if missing else ""))
            for n in missing:
                results[n] = Result(binary, n, error=what)
    return results, failures


# ---- the summary -----------------------------------------------------------------------------

def metric_value(result, row_metric, scale):
    s = result.stats(row_metric)
    if s is None:
        return None
    med, lo, hi, n = s
    return med * scale, lo * scale, hi * scale, n


def build_summary(rows, results, args):
    """[{row fields, cells: {col: {...}}}] for the rows whose benchmarks ran."""
    summary = []
    for row in rows:
        if args.scenarios and row.id not in args.scenarios:
            continue
        by_variant = {}
        for (binary, name), r in results.items():
            if binary != row.binary:
                continue
            m = re.fullmatch(row.pattern, name)
            if not m:
                continue
            col = row.column(m)
            if not column_allowed(col, row, args):
                continue
            variant = m.groupdict().get("variant") or ""
            by_variant.setdefault(variant, {})[col] = r
        for variant in sorted(by_variant, key=lambda v: (len(v), v)):
            cells = {}
            for col, r in by_variant[variant].items():
                cell = {"benchmark": r.name, "binary": r.binary, "label": r.label}
                if r.error:
                    cell["error"] = r.error
                else:
                    v = metric_value(r, row.metric, row.scale)
                    if v is None:
                        cell["error"] = f"no '{row.metric}' in its output"
                    else:
                        cell.update(median=v[0], min=v[1], max=v[2], n=v[3],
                                    values=[x * row.scale for x in r.values[row.metric]])
                cells[col] = cell
            base_col = row.baseline if row.baseline in cells else (
                next((c for c in STYLE_COLUMNS if c in cells), None))
            base = cells.get(base_col, {}).get("median") if base_col else None
            for cell in cells.values():
                if "median" in cell and base:
                    cell["ratio"] = cell["median"] / base
            entry = {"id": row.id + (f"/{variant}" if variant else ""),
                     "title": row.title.replace("{variant}", fmt_variant(variant)),
                     "unit": row.unit, "metric": row.metric, "better": row.better,
                     "baseline": base_col, "cells": cells}
            entry["verdict"] = verdict(row, cells)
            summary.append(entry)
    return summary


def column_title(col):
    return COLUMNS.get(col, col)


def verdict(row, cells):
    """One line: the winner and the reason, or why there is none; when a peer or baseline wins,
    the same for the styles among themselves."""
    text = rank(row, cells)
    ok = {c: v for c, v in cells.items() if "median" in v}
    ok_styles = {c: v for c, v in ok.items() if c in STYLE_COLUMNS}
    sign = 1 if row.better == "lower" else -1
    best = min(ok, key=lambda c: sign * ok[c]["median"]) if ok else None
    if best not in STYLE_COLUMNS and len(ok_styles) >= 2:
        text += "; among the styles: " + rank(row, ok_styles)
    return text


def rank(row, cells):
    ok = {c: v for c, v in cells.items() if "median" in v}
    if len(ok) < 2:
        return "no comparison: fewer than two columns ran"
    sign = 1 if row.better == "lower" else -1
    ranked = sorted(ok, key=lambda c: sign * ok[c]["median"])
    best, second = ranked[0], ranked[1]
    b, s = ok[best], ok[second]
    if row.metric in COUNT_METRICS and round(b["median"], 2) == round(s["median"], 2):
        return f"tie: {column_title(best)} and {column_title(second)} both {fmt_num(b['median'])} {row.unit}"
    overlap = (b["max"] >= s["min"]) if row.better == "lower" else (b["min"] <= s["max"])
    if s["median"] and b["median"]:
        factor = s["median"] / b["median"] if row.better == "lower" else b["median"] / s["median"]
    else:
        factor = None
    reason = row.why.get(best, "(no reason recorded: add one to its Row in bench/compare.py)")
    if overlap:
        return (f"no clear winner: {column_title(best)} and {column_title(second)} overlap "
                f"(min-max); {column_title(best)}'s median is better by "
                f"{'n/a' if factor is None else f'{factor:.2f}x'}")
    by = "against zero" if factor is None else f"{factor:.2f}x"
    return f"{column_title(best)} wins ({by} over {column_title(second)}): {reason}"


def summary_columns(summary):
    used = []
    for entry in summary:
        for c in entry["cells"]:
            if c not in used:
                used.append(c)
    order = list(COLUMNS)
    return sorted(used, key=lambda c: (order.index(c) if c in order else len(order), c))


def fmt_cell(cell, metric):
    if "error" in cell:
        return "failed"
    med, lo, hi = cell["median"], cell["min"], cell["max"]
    rounded = False
    if metric in COUNT_METRICS:
        vals = []
        for v in (med, lo, hi):
            if abs(v) < COUNT_EPSILON:
                rounded |= v != 0
                v = 0.0
            vals.append(v)
        med, lo, hi = vals
    text = f"{fmt_num(med)} ({fmt_num(lo)}-{fmt_num(hi)})"
    if "ratio" in cell:
        text += f" {cell['ratio']:.2f}x"
    return text, rounded


def render_summary(summary, width):
    cols = summary_columns(summary)
    header = ["operation", "unit"] + [column_title(c) for c in cols]
    rows, notes, rounded_any = [], [], False
    for entry in summary:
        r = [entry["id"], entry["unit"]]
        for c in cols:
            cell = entry["cells"].get(c)
            if cell is None:
                r.append("")
                continue
            text, rounded = fmt_cell(cell, entry["metric"])
            rounded_any |= rounded
            r.append(text)
        rows.append(r)
    out = [render_table(header, rows), ""]
    out.append("Each cell: median (min-max) of the repetitions, then the ratio to the row's "
               "baseline column (explicit unless the row says otherwise); higher is better only "
               "for M items/s. Times are the benchmark thread's CPU time, or wall time where "
               "other threads do the work (post, scheduler rows).")
    if rounded_any:
        out.append(f"Counts below {COUNT_EPSILON} per operation are rounded to 0 (allocations "
                   "made once per run, e.g. by Google Benchmark itself, spread over millions of "
                   "iterations).")
    out.append("")
    for entry in summary:
        out.append(f"  {entry['id']} ({entry['title']}): {entry['verdict']}")
        labels = {column_title(c): v["label"] for c, v in entry["cells"].items() if v.get("label")}
        if labels:
            out.append("      " + "; ".join(f"{k}: {v}" for k, v in labels.items()))
        for c, v in entry["cells"].items():
            if "error" in v:
                out.append(f"      !! {column_title(c)} ({v['benchmark']}) failed: {v['error']}")
    return "\n".join(out)


def derived_lines(results):
    lines, data = [], []
    for title, binary, num, den, metric, unit, scale, _quick in DERIVED:
        a, b = results.get((binary, num)), results.get((binary, den))
        if not a or not b:
            continue
        sa, sb = a.stats(metric), b.stats(metric)
        if not sa or not sb or not sb[0]:
            continue
        ratio = sa[0] / sb[0]
        lines.append(f"  {title}: {fmt_num(sa[0] * scale)} ({fmt_num(sa[1] * scale)}-"
                     f"{fmt_num(sa[2] * scale)}) / {fmt_num(sb[0] * scale)} ({fmt_num(sb[1] * scale)}-"
                     f"{fmt_num(sb[2] * scale)}) {unit} = {ratio:.2f}x")
        data.append({"title": title, "numerator": num, "denominator": den, "metric": metric,
                     "ratio": ratio})
    return lines, data


# ---- the family tables (full runs) -----------------------------------------------------------

def family_tables(results):
    by_family = {}
    for (binary, name), r in results.items():
        family, case, fargs = split_name(name)
        by_family.setdefault((binary, family), []).append((case, fargs, r))
    out, missing = [], []
    for (binary, family), members in by_family.items():
        baselines = [(c, a, r) for c, a, r in members if is_baseline_case(family, c) and not r.error]
        counters = []
        for _, _, r in members:
            for k in r.values:
                if k not in ("time", "cpu_time", "real_time") and k not in counters:
                    counters.append(k)
        header = ["case", "ns/op (min-max)"] + counters + ["x baseline"]
        rows = []
        for case, fargs, r in members:
            label = case + (f"/{fargs}" if fargs else "")
            if r.error:
                rows.append([label, "failed: " + r.error[:60]] + [""] * (len(counters) + 1))
                continue
            med, lo, hi, _ = r.stats("time")
            row = [label, f"{fmt_num(med)} ({fmt_num(lo)}-{fmt_num(hi)}){' wall' if r.wall else ''}"]
            for k in counters:
                s = r.stats(k)
                v = s[0] if s else None
                if v is not None and k in COUNT_METRICS and abs(v) < COUNT_EPSILON:
                    v = 0.0
                row.append(fmt_num(v))
            base = next((b for b in baselines if b[1] == fargs), baselines[0] if baselines else None)
            if base:
                bmed = base[2].stats("time")[0]
                row.append(f"{med / bmed:.2f}" if bmed else "-")
            else:
                row.append("-")
            rows.append(row)
        if baselines:
            names = ", ".join(sorted({b[0] for b in baselines}))
            out.append(f"### {binary}: {family}  (baseline: {names})")
        else:
            out.append(f"### {binary}: {family}  (no baseline recognised: name a case "
                       "baseline_*, or add the family to FAMILY_BASELINES in bench/compare.py)")
            missing.append(f"{binary} {family}")
        out.append(render_table(header, rows))
        out.append("")
    return "\n".join(out), missing


# ---- samples ---------------------------------------------------------------------------------

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
    """Runs `path` `runs` times. Returns (stdout of the first run, problem or None, [ms])."""
    outputs, times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            proc = subprocess.run([path], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return "", f"timed out after {timeout:.0f} s", times
        times.append((time.perf_counter() - start) * 1e3)
        if proc.returncode != 0:
            return proc.stdout, (f"exited with status {proc.returncode}: " +
                                 proc.stderr.strip()[-500:]).rstrip(), times
        outputs.append(proc.stdout)
    if any(o != outputs[0] for o in outputs[1:]):
        return outputs[0], "output differs between runs of the same program (unstable output)", times
    return outputs[0], None, times


def indent(text, prefix="    "):
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.splitlines())


def diff_text(a, b, name_a, name_b):
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), name_a, name_b,
                                          lineterm="", n=2))


def differ(names):
    return "differs" if len(names) == 1 else "differ"


def compare_samples(args, samples, log):
    """Prints every scenario; returns (failures, records for results.json)."""
    failures, records = [], []
    for scenario, styles in samples.items():
        results = {style: run_sample(path, args.runs, args.timeout) for style, path in styles.items()}
        expected_path = os.path.join(args.source_dir, "samples", scenario, "expected.txt")
        expected = None
        if os.path.isfile(expected_path):
            with open(expected_path, encoding="utf-8") as f:
                expected = f.read()
        outs = {s: r[0] for s, r in results.items() if r[1] is None}
        problems = {s: r[1] for s, r in results.items() if r[1] is not None}
        names = ", ".join(styles)
        first = next(iter(outs), None)
        identical = bool(outs) and not problems and all(o == outs[first] for o in outs.values())
        matches = expected is not None and bool(outs) and all(o == expected for o in outs.values())
        timing = ", ".join(f"{s} {statistics.median(r[2]):.0f} ms" if r[2] else f"{s} -"
                           for s, r in results.items())
        log("")
        if identical and matches:
            log(f"## {scenario}: identical in {names}; matches expected.txt")
            log(indent(outs[first]))
        else:
            verdicts = []
            if problems:
                verdicts.append("failed in " + ", ".join(problems))
            differing = [s for s, o in outs.items() if first and o != outs[first]]
            if differing:
                verdicts.append(f"{', '.join(differing)} {differ(differing)} from {first}")
            elif len(outs) > 1:
                verdicts.append(f"identical in {', '.join(outs)}")
            if expected is None:
                verdicts.append("no expected.txt")
            elif not matches:
                bad = [s for s, o in outs.items() if o != expected]
                if bad:
                    verdicts.append(f"{', '.join(bad)} {differ(bad)} from expected.txt")
            log(f"## {scenario}: {'; '.join(verdicts)}")
            if first:
                log(f"{first}:")
                log(indent(outs[first]))
            for s in differing:
                log(indent(diff_text(outs[first], outs[s], first, s)))
            if expected is not None and first and outs[first] != expected:
                log(indent(diff_text(expected, outs[first], "expected.txt", first)))
            for s, p in problems.items():
                log(f"    !! {s}: {p}")
                failures.append(f"sample {scenario}/{s}: {p.splitlines()[0]}")
            if differing:
                failures.append(f"sample {scenario}: {', '.join(differing)} {differ(differing)} "
                                f"from {first}")
            if expected is None:
                failures.append(f"sample {scenario}: no samples/{scenario}/expected.txt")
            elif outs and not matches:
                failures.append(f"sample {scenario}: output differs from expected.txt")
        log(f"    run time (median of {args.runs}, wall, process start included): {timing}")
        records.append({"scenario": scenario, "styles": list(styles), "identical": identical,
                        "matches_expected": matches,
                        "run_ms": {s: r[2] for s, r in results.items()},
                        "problems": problems})
    return failures, records


# ---- files -----------------------------------------------------------------------------------

def write_files(out_dir, meta, sample_records, results, summary, derived, failures):
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "results.json")
    csv_path = os.path.join(out_dir, "results.csv")
    doc = {
        "meta": meta,
        "samples": sample_records,
        "summary": summary,
        "derived": derived,
        "benchmarks": [
            {"binary": r.binary, "name": r.name, "family": split_name(r.name)[0],
             "case": split_name(r.name)[1], "args": split_name(r.name)[2], "label": r.label,
             "error": r.error, "repetitions": r.values,
             "median": {k: statistics.median(v) for k, v in r.values.items() if v}}
            for r in results.values()],
        "failures": failures,
    }
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["kind", "binary_or_scenario", "name_or_style", "metric", "unit", "repetition",
                    "value", "error"])
        for r in results.values():
            if r.error:
                w.writerow(["benchmark", r.binary, r.name, "", "", "", "", r.error])
            for metric, vals in r.values.items():
                unit = "ns" if metric in ("time", "cpu_time", "real_time") else ""
                for i, v in enumerate(vals):
                    w.writerow(["benchmark", r.binary, r.name, metric, unit, i, repr(v), ""])
        for rec in sample_records:
            for style, times in rec["run_ms"].items():
                for i, v in enumerate(times):
                    w.writerow(["sample", rec["scenario"], style, "run_time", "ms", i,
                                f"{v:.3f}", rec["problems"].get(style, "")])
    return json_path, csv_path


def write_trace(out_dir, samples, timeout):
    """Runs the when_all sample (the first style found) once with DUET_TRACE=<out_dir>/trace.json:
    a Chrome trace of one run (diag/trace.hpp). Returns (path or None, note)."""
    styles = samples.get("when_all", {})
    if not styles:
        return None, "no trace: the when_all sample was not built"
    style, exe = next(iter(styles.items()))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "trace.json")
    if os.path.exists(path):
        os.remove(path)
    try:
        subprocess.run([exe], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=dict(os.environ, DUET_TRACE=path))
    except subprocess.TimeoutExpired:
        return None, "no trace: the when_all sample timed out"
    if not os.path.exists(path):
        return None, "no trace: the library was built without tracing (meson -Dtracing=enabled)"
    return path, f"Chrome trace of the when_all sample ({style}); open it in https://ui.perfetto.dev"


def write_charts(out_dir, summary):
    """One bar chart per summary row, SVG and PNG. Returns (paths, problem or None)."""
    if not summary:
        return [], None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], (f"charts skipped: matplotlib cannot be imported by {sys.executable} (Debian's "
                    "python3-matplotlib, installed by bash .ci/install-deps, is for /usr/bin/python3)")
    chart_dir = os.path.join(out_dir, "charts")
    os.makedirs(chart_dir, exist_ok=True)
    paths = []
    for entry in summary:
        cells = [(c, v) for c, v in entry["cells"].items() if "median" in v]
        if not cells:
            continue
        order = list(COLUMNS)
        cells.sort(key=lambda cv: order.index(cv[0]) if cv[0] in order else len(order))
        labels = [column_title(c) for c, _ in cells]
        med = [v["median"] for _, v in cells]
        err = [[v["median"] - v["min"] for _, v in cells], [v["max"] - v["median"] for _, v in cells]]
        colors = ["#4c72b0" if c in STYLE_COLUMNS or c == "duet" else "#999999" for c, _ in cells]
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        ax.bar(labels, med, yerr=err, capsize=6, color=colors)
        ax.set_title(entry["title"], fontsize=10)
        ax.set_ylabel(entry["unit"] + (" (higher is better)" if entry["better"] == "higher"
                                       else " (lower is better)"))
        for i, v in enumerate(med):
            ax.annotate(fmt_num(v), (i, v), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
        fig.tight_layout()
        stem = os.path.join(chart_dir, entry["id"].replace("/", "_"))
        for ext in ("svg", "png"):
            fig.savefig(f"{stem}.{ext}", dpi=100)
            paths.append(f"{stem}.{ext}")
        plt.close(fig)
    return paths, None


# ---- the I/O section ---------------------------------------------------------------------------

def run_io_section(args, width, log):
    """The server benchmark (bench/io/io_bench.py: each server loaded with wrk, side by side);
    writes <out-dir>/io.json. Returns the failures."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "io_bench", os.path.join(os.path.dirname(os.path.abspath(__file__)), "io", "io_bench.py"))
    io_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(io_bench)
    log("")
    log("=" * width)
    log(f"I/O: the keep-alive hello server in each model, loaded by wrk over loopback "
        f"({args.io_repetitions} repetitions, interleaved)")
    log("=" * width)
    results, failures = io_bench.run(args.build_dir, repetitions=args.io_repetitions, log=log)
    if results:
        log("")
        log(io_bench.render(results))
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, "io.json"), "w", encoding="utf-8") as f:
            json.dump({"results": results, "summary": io_bench.summarize(results),
                       "failures": failures}, f, indent=1, default=str)
    return [f"I/O: {f}" for f in failures]


# ---- main ------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--scenarios", default="", help="comma-separated sample scenarios and summary "
                   "row ids to keep (default: all)")
    p.add_argument("--styles", default="", help="comma-separated styles to keep (default: all)")
    p.add_argument("--scenario-order", default="", help="preferred scenario order (from meson)")
    p.add_argument("--style-order", default="explicit,dsl,fiber", help="preferred style order")
    p.add_argument("--quick", action="store_true", help="a sub-minute run: samples once, only "
                   "the summary's benchmarks, briefly, at their smallest sizes")
    p.add_argument("--runs", type=int, default=None, help="runs per sample (default 3, quick 1)")
    p.add_argument("--repetitions", type=int, default=5, help="repetitions per benchmark (>= 5 "
                   "for a reported figure)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per sample run")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmarks")
    p.add_argument("--all-sizes", action="store_true", help="also run the HEAVY benchmarks "
                   "(a million unguarded fibers)")
    p.add_argument("--bench-min-time", default=None,
                   help="Google Benchmark --benchmark_min_time, seconds (default 0.05, quick 0.005)")
    p.add_argument("--bench-timeout", type=float, default=900.0, help="seconds per family")
    p.add_argument("--out-dir", default=None, help="where the files go (default "
                   "<build-dir>/compare)")
    p.add_argument("--no-io", action="store_true", help="skip the I/O section (the wrk server "
                   "benchmark, bench/io/io_bench.py; --quick skips it too)")
    p.add_argument("--io-only", action="store_true", help="run only the I/O section")
    p.add_argument("--io-repetitions", type=int, default=5, help="repetitions of the I/O section")
    args = p.parse_args(argv)
    args.scenarios = split_list(args.scenarios)
    args.styles = split_list(args.styles)
    args.scenario_order = split_list(args.scenario_order)
    args.style_order = split_list(args.style_order)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    args.runs = max(1, args.runs)
    if args.bench_min_time is None:
        args.bench_min_time = "0.005" if args.quick else "0.05"
    args.summary_only = bool(args.quick or args.scenarios or args.styles)
    args.out_dir = args.out_dir or os.path.join(args.build_dir, "compare")
    if os.environ.get("DUET_COMPARE_NO_BENCH") == "1":
        args.no_bench = True
    args.run_io = args.io_only or not (args.quick or args.no_io or args.no_bench)
    if args.io_only:
        args.no_bench = True
    return args


def check_filters(args, samples, bench_binaries):
    """Unknown names in --scenarios / --styles: an error naming the known ones."""
    known_scenarios = set(samples) | {r.id for r in SUMMARY_ROWS}
    known_styles = {s for styles in samples.values() for s in styles} | set(STYLE_COLUMNS)
    errors = []
    bad = [s for s in args.scenarios if s not in known_scenarios]
    if bad:
        errors.append(f"--scenarios: unknown {', '.join(bad)}; known: "
                      f"{', '.join(sorted(known_scenarios))}")
    bad = [s for s in args.styles if s not in known_styles]
    if bad:
        errors.append(f"--styles: unknown {', '.join(bad)}; known: {', '.join(sorted(known_styles))}")
    return errors


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    width = min(200, max(80, shutil.get_terminal_size((160, 40)).columns))

    def log(text=""):
        print(text, flush=True)

    samples = discover_samples(args.build_dir, args.scenario_order, args.style_order)
    bench_dir = os.path.join(args.build_dir, "bench")
    binaries = []
    if os.path.isdir(bench_dir) and not args.no_bench:
        binaries = sorted(os.path.join(bench_dir, f) for f in os.listdir(bench_dir)
                          if f.startswith("bench_") and not f.startswith("bench_peer_")
                          and is_executable(os.path.join(bench_dir, f)))
        # bench_peer_* are peer programs that a benchmark binary runs itself (e.g.
        # bench_scheduler runs Boost.Fiber's skynet in its own process); they are not
        # Google Benchmark binaries.
    errors = check_filters(args, samples, binaries)
    if errors:
        for e in errors:
            print(f"compare.py: {e}", file=sys.stderr)
        return 2
    if args.scenarios:
        samples = {k: v for k, v in samples.items() if k in args.scenarios}
    if args.styles:
        samples = {k: {s: p for s, p in v.items() if s in args.styles} for k, v in samples.items()}
        samples = {k: v for k, v in samples.items() if v}

    failures = []
    if args.io_only:
        samples = {}
    log("=" * width)
    log("Samples: every scenario in every style" + (" (filtered)" if args.scenarios or args.styles
                                                    else ""))
    log("=" * width)
    if not samples:
        log(f"no sample programs selected in {os.path.join(args.build_dir, 'samples')}")
    f, sample_records = compare_samples(args, samples, log)
    failures += f

    results = {}
    rows = SUMMARY_ROWS
    if binaries:
        log("")
        log("=" * width)
        log(f"Benchmarks ({'quick: ' if args.quick else ''}{args.repetitions} repetitions each, "
            f"interleaved, min time {args.bench_min_time} s)")
        log("=" * width)
        for exe in binaries:
            got, f = run_binary(exe, args, rows, log)
            failures += f
            for name, r in got.items():
                results[(r.binary, name)] = r
    elif not args.no_bench:
        log("no benchmark binaries found (Google Benchmark missing, or -Dbenchmarks=disabled)")

    summary = build_summary(rows, results, args)
    derived, derived_data = derived_lines(results)
    if summary:
        log("")
        log("=" * width)
        log("Summary: each operation in each style, peers beside them")
        log("=" * width)
        log(render_summary(summary, width))
        if derived:
            log("")
            log("Ratios between rows:")
            for line in derived:
                log(line)
    if results and not args.summary_only:
        tables, _missing = family_tables(results)
        log("")
        log("=" * width)
        log("Every benchmark family: median time per operation (min-max; CPU time of the "
            "benchmark thread, or wall time where marked), counters, ratio to the baseline")
        log("=" * width)
        log(tables)

    if args.run_io:
        failures += run_io_section(args, width, log)

    meta = {"argv": sys.argv, "quick": args.quick, "repetitions": args.repetitions,
            "bench_min_time": args.bench_min_time, "runs": args.runs,
            "scenarios": args.scenarios, "styles": args.styles,
            "elapsed_s": time.perf_counter() - started,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    json_path, csv_path = write_files(args.out_dir, meta, sample_records, results, summary,
                                      derived_data, failures)
    charts, chart_problem = write_charts(args.out_dir, summary)
    trace_path, trace_note = write_trace(args.out_dir, samples, 120)

    log("")
    if failures:
        log(f"comparison: FAILED ({len(failures)} problems; everything else above ran)")
        for f in failures:
            log(f"  - {f}")
    else:
        log("comparison: every sample agrees across styles and matches expected.txt; every "
            "benchmark ran")
    log(f"elapsed: {time.perf_counter() - started:.0f} s")
    log("files:")
    log(f"  {os.path.abspath(json_path)}")
    log(f"  {os.path.abspath(csv_path)}")
    if charts:
        log(f"  {os.path.abspath(os.path.join(args.out_dir, 'charts'))}/ ({len(charts)} files: "
            f"{', '.join(os.path.basename(c) for c in charts[:4])}{', ...' if len(charts) > 4 else ''})")
    if chart_problem:
        log(f"  {chart_problem}")
    log(f"  {os.path.abspath(trace_path)} ({trace_note})" if trace_path else f"  {trace_note}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
