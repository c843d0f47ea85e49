#!/usr/bin/env python3
"""test_compare.py — bench/compare.py, the main job's runner.

* Parsing: fixtures/bench_fiber.json is real output of
      bench_fiber --benchmark_format=json --benchmark_repetitions=5
          --benchmark_enable_random_interleaving=true --benchmark_min_time=0.01
          --benchmark_filter='^(AwaitCompleted/(explicit|dsl|fiber)|CreateFinish/(explicit|fiber|
              fiber_unguarded)|PendingRss/(explicit|fiber)/10000/iterations:1)$'
  and the medians the runner reports are checked against figures computed here from the raw JSON.
* End to end: a fake build directory whose samples are shell scripts and whose bench_fiber is a
  script replaying the fixture (filtered as Google Benchmark would), plus a bench_crash that dies
  in one family. Checks the report, the exit status, the files, the filters and bad options.
"""
import contextlib
import importlib.util
import io
import json
import os
import re
import statistics
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(HERE, "fixtures", "bench_fiber.json")

spec = importlib.util.spec_from_file_location("compare", os.path.join(ROOT, "bench", "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)

with open(FIXTURE, encoding="utf-8") as f:
    FIXTURE_TEXT = f.read()
FIXTURE_DATA = json.loads(FIXTURE_TEXT)


def raw_iterations(name_prefix):
    return [e for e in FIXTURE_DATA["benchmarks"]
            if e["run_type"] == "iteration" and e["run_name"].startswith(name_prefix)]


class Parsing(unittest.TestCase):
    def test_every_repetition_is_kept_and_aggregates_are_ignored(self):
        results = compare.parse_benchmark_json("bench_fiber", FIXTURE_DATA)
        self.assertEqual(sorted(results), sorted([
            "AwaitCompleted/explicit", "AwaitCompleted/dsl", "AwaitCompleted/fiber",
            "CreateFinish/explicit", "CreateFinish/fiber", "CreateFinish/fiber_unguarded",
            "PendingRss/explicit/10000", "PendingRss/fiber/10000"]))
        for r in results.values():
            self.assertEqual(len(r.values["time"]), 5, r.name)
            self.assertEqual(r.error, "")

    def test_time_is_the_threads_cpu_time_and_counters_are_per_operation(self):
        results = compare.parse_benchmark_json("bench_fiber", FIXTURE_DATA)
        raw = raw_iterations("AwaitCompleted/dsl")
        med, lo, hi, n = results["AwaitCompleted/dsl"].stats("time")
        self.assertEqual(n, 5)
        self.assertAlmostEqual(med, statistics.median(e["cpu_time"] for e in raw))
        self.assertAlmostEqual(lo, min(e["cpu_time"] for e in raw))
        self.assertAlmostEqual(hi, max(e["cpu_time"] for e in raw))
        self.assertFalse(results["AwaitCompleted/dsl"].wall)
        rss = results["PendingRss/fiber/10000"]
        raw = raw_iterations("PendingRss/fiber/10000")
        self.assertAlmostEqual(rss.stats("bytes/op")[0], statistics.median(e["bytes/op"] for e in raw))
        self.assertRegex(rss.label, r"^guard: (madvise|mprotect)$")

    def test_wall_time_when_the_benchmark_asked_for_it(self):
        data = {"benchmarks": [{"name": "Post/duet/real_time", "run_name": "Post/duet/real_time",
                                "run_type": "iteration", "real_time": 2.0, "cpu_time": 1.0,
                                "time_unit": "us"}]}
        r = compare.parse_benchmark_json("bench_x", data)["Post/duet"]
        self.assertTrue(r.wall)
        self.assertEqual(r.values["time"], [2000.0])

    def test_errors_are_kept_per_benchmark(self):
        data = {"benchmarks": [{"name": "PendingRss/fiber/1000000/iterations:1",
                                "run_type": "iteration", "error_occurred": True,
                                "error_message": "only 32000 fibers fit"}]}
        r = compare.parse_benchmark_json("bench_fiber", data)["PendingRss/fiber/1000000"]
        self.assertEqual(r.error, "only 32000 fibers fit")

    def test_a_truncated_document_keeps_its_complete_runs(self):
        cut = FIXTURE_TEXT.index('"AwaitCompleted', FIXTURE_TEXT.index('"run_type": "iteration"', 3000))
        salvaged = compare.salvage_json(FIXTURE_TEXT[:cut])
        self.assertIsNotNone(salvaged)
        self.assertGreater(len(salvaged["benchmarks"]), 0)
        self.assertLess(len(salvaged["benchmarks"]), len(FIXTURE_DATA["benchmarks"]))
        self.assertIsNone(compare.salvage_json("Segmentation fault"))


class Names(unittest.TestCase):
    def test_family_case_and_args(self):
        cases = {
            "AwaitCompleted/explicit": ("AwaitCompleted", "explicit", ""),
            "PendingRss/fiber/10000/iterations:1": ("PendingRss", "fiber", "10000"),
            "Sum2/completed/dsl": ("Sum2/completed", "dsl", ""),
            "Timer/Workload/Heap": ("Timer/Workload", "Heap", ""),
            "ChainedPost/asio/2/real_time": ("ChainedPost", "asio", "2"),
            "YieldPingPong/explicit/default/real_time": ("YieldPingPong", "explicit", "default"),
        }
        for name, expected in cases.items():
            self.assertEqual(compare.split_name(name), expected, name)

    def test_every_family_of_the_benchmarks_has_a_baseline(self):
        # Every family the repository's benchmarks define today (bench/*.cpp), and bench_scheduler's.
        names = []
        for f in sorted(os.listdir(os.path.join(ROOT, "bench"))):
            if f.endswith(".cpp"):
                with open(os.path.join(ROOT, "bench", f), encoding="utf-8") as src:
                    names += re.findall(r'->Name\("([^"]+)"\)', src.read())
        names += ["ChainedPost/duet/1", "ChainedPost/asio/1", "ExternalPost/asio/2"]
        families = {}
        for n in names:
            fam, case, _ = compare.split_name(n)
            families.setdefault(fam, []).append(case)
        self.assertGreater(len(families), 10)
        for fam, cases in families.items():
            self.assertTrue(any(compare.is_baseline_case(fam, c) for c in cases),
                            f"family {fam} ({cases}) has no baseline compare.py recognises")

    def test_filter_regex_escapes_what_google_benchmark_would_read_as_regex(self):
        self.assertEqual(compare.regex_escape("PendingRss/fiber/10000/iterations:1"),
                         "PendingRss/fiber/10000/iterations:1")
        self.assertEqual(compare.regex_escape("a.b(c)+"), r"a\.b\(c\)\+")


def args_for(argv):
    return compare.parse_args(["--build-dir", "b", "--source-dir", "s"] + argv)


class Summary(unittest.TestCase):
    def setUp(self):
        parsed = compare.parse_benchmark_json("bench_fiber", FIXTURE_DATA)
        self.results = {("bench_fiber", n): r for n, r in parsed.items()}

    def test_rows_cells_and_ratios(self):
        summary = compare.build_summary(compare.SUMMARY_ROWS, self.results, args_for([]))
        ids = [e["id"] for e in summary]
        self.assertEqual(ids, ["await_completed", "create_finish", "create_finish_allocs",
                               "pending_bytes/10000"])
        row = summary[0]
        self.assertEqual(set(row["cells"]), {"explicit", "dsl", "fiber"})
        self.assertAlmostEqual(row["cells"]["explicit"]["ratio"], 1.0)
        explicit = self.results[("bench_fiber", "AwaitCompleted/explicit")].stats("time")[0]
        fiber = self.results[("bench_fiber", "AwaitCompleted/fiber")].stats("time")[0]
        self.assertAlmostEqual(row["cells"]["fiber"]["ratio"], fiber / explicit)
        self.assertEqual(row["cells"]["fiber"]["n"], 5)
        self.assertEqual(summary[3]["title"], "resident bytes per pending operation, 10k pending")
        for e in summary:
            self.assertTrue(re.match(r"(explicit|dsl|fiber) wins|no clear winner|tie", e["verdict"]),
                            e["verdict"])

    def test_the_report_prints_units_spreads_and_a_verdict_per_row(self):
        summary = compare.build_summary(compare.SUMMARY_ROWS, self.results, args_for([]))
        text = compare.render_summary(summary, 160)
        self.assertIn("ns/op", text)
        self.assertIn("allocs/op", text)
        self.assertIn("bytes", text)
        self.assertNotRegex(text, r"\de-\d")  # no 8.3e-09 noise
        self.assertRegex(text, r"\d \([\d.,]+-[\d.,]+\) 1\.00x")
        for e in summary:
            self.assertIn(f"  {e['id']} ({e['title']}): {e['verdict']}", text)

    def test_near_zero_counts_are_rounded_and_the_report_says_so(self):
        cell = {"median": 1e-6, "min": 0.0, "max": 2e-6}
        text, rounded = compare.fmt_cell(cell, "allocs/op")
        self.assertEqual(text, "0 (0-0)")
        self.assertTrue(rounded)

    def test_the_guard_page_ratio(self):
        lines, data = compare.derived_lines(self.results)
        self.assertEqual(len(data), 1)
        guarded = self.results[("bench_fiber", "CreateFinish/fiber")].stats("time")[0]
        unguarded = self.results[("bench_fiber", "CreateFinish/fiber_unguarded")].stats("time")[0]
        self.assertAlmostEqual(data[0]["ratio"], guarded / unguarded)
        self.assertIn("fiber / fiber_unguarded", lines[0])

    def test_style_filter_keeps_those_styles_and_scenario_filter_those_rows(self):
        summary = compare.build_summary(compare.SUMMARY_ROWS, self.results,
                                        args_for(["--styles", "dsl,fiber", "--scenarios",
                                                  "await_completed"]))
        self.assertEqual([e["id"] for e in summary], ["await_completed"])
        self.assertEqual(set(summary[0]["cells"]), {"dsl", "fiber"})
        # Without explicit the ratio's denominator is the first style shown.
        self.assertEqual(summary[0]["baseline"], "dsl")
        self.assertAlmostEqual(summary[0]["cells"]["dsl"]["ratio"], 1.0)


FAKE_BENCH = r'''#!/usr/bin/env python3
# A stand-in for a Google Benchmark binary: replays a recorded JSON document.
import json, re, sys
doc = json.load(open(%(fixture)r))
names = []
for e in doc["benchmarks"]:
    if e["run_type"] == "iteration" and e["run_name"] not in names:
        names.append(e["run_name"])
if %(extra)r:
    names = %(extra)r
if "--benchmark_list_tests=true" in sys.argv:
    print("\n".join(names))
    sys.exit(0)
flt = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--benchmark_filter="))
if re.search(flt, %(crash)r or "\x00"):
    sys.stdout.write('{\n  "context": {},\n  "benchmarks": [\n    {\n      "name": "half')
    sys.stderr.write("Segmentation fault\n")
    sys.exit(139)
doc["benchmarks"] = [e for e in doc["benchmarks"] if re.search(flt, e["run_name"])]
print(json.dumps(doc, indent=2))
'''


def write_exe(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = self.tmp.name
        self.build = os.path.join(root, "build")
        self.src = os.path.join(root, "src")
        os.makedirs(os.path.join(self.build, "samples"))
        os.makedirs(os.path.join(self.build, "bench"))
        for scenario, outputs in {
            "alpha": {"explicit": "one\ntwo\n", "dsl": "one\ntwo\n", "fiber": "one\ntwo\n"},
            "beta": {"explicit": "same\n", "dsl": "same\n", "fiber": "other\n"},
        }.items():
            os.makedirs(os.path.join(self.src, "samples", scenario))
            with open(os.path.join(self.src, "samples", scenario, "expected.txt"), "w") as f:
                f.write(outputs["explicit"])
            for style, text in outputs.items():
                write_exe(os.path.join(self.build, "samples", f"{scenario}_{style}"),
                          "#!/bin/sh\nprintf '" + text.replace("\n", "\\n") + "'\n")
        write_exe(os.path.join(self.build, "bench", "bench_fiber"),
                  FAKE_BENCH % {"fixture": FIXTURE, "extra": [], "crash": ""})
        write_exe(os.path.join(self.build, "bench", "bench_crash"),
                  FAKE_BENCH % {"fixture": FIXTURE, "extra": ["Crash/explicit", "Crash/dsl"],
                                "crash": "Crash/explicit"})

    def tearDown(self):
        self.tmp.cleanup()

    def run_compare(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = compare.main(["--build-dir", self.build, "--source-dir", self.src,
                                   "--repetitions", "5"] + list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_full_report(self):
        status, out, _ = self.run_compare("--runs", "2")
        self.assertEqual(status, 1)  # beta differs, and a benchmark family crashed
        self.assertIn("## alpha: identical in explicit, dsl, fiber; matches expected.txt\n    one\n    two\n",
                      out)
        self.assertEqual(out.count("    one\n"), 1)  # printed once, not per style
        self.assertIn("## beta: fiber differs from explicit; fiber differs from expected.txt", out)
        self.assertIn("+other", out)
        # The crash is reported and hides nothing: the summary and the other family are there.
        self.assertRegex(out, r"bench_crash Crash: exited with status 139: Segmentation fault "
                              r"\(no result for Crash/explicit, Crash/dsl\)")
        self.assertIn("await_completed", out)
        self.assertIn("pending_bytes/10000", out)
        self.assertIn("### bench_fiber: AwaitCompleted  (baseline: explicit)", out)
        self.assertIn("guard page cost, create and finish: fiber / fiber_unguarded", out)
        # Files, with every repetition, and their paths at the end.
        json_path = os.path.join(self.build, "compare", "results.json")
        csv_path = os.path.join(self.build, "compare", "results.csv")
        self.assertTrue(out.rstrip().split("files:")[1].strip().startswith(json_path))
        with open(json_path, encoding="utf-8") as f:
            doc = json.load(f)
        bench = {b["name"]: b for b in doc["benchmarks"] if b["binary"] == "bench_fiber"}
        self.assertEqual(len(bench["CreateFinish/fiber"]["repetitions"]["time"]), 5)
        self.assertEqual([s["scenario"] for s in doc["samples"]], ["alpha", "beta"])
        self.assertTrue(doc["samples"][0]["identical"] and doc["samples"][0]["matches_expected"])
        self.assertFalse(doc["samples"][1]["identical"])
        with open(csv_path, encoding="utf-8") as f:
            rows = f.read().splitlines()
        self.assertEqual(sum(1 for r in rows if r.startswith("benchmark,bench_fiber,CreateFinish/fiber,time,")), 5)
        self.assertEqual(sum(1 for r in rows if r.startswith("sample,alpha,dsl,run_time,ms,")), 2)
        if importlib.util.find_spec("matplotlib"):
            for ext in ("svg", "png"):
                self.assertTrue(os.path.isfile(os.path.join(self.build, "compare", "charts",
                                                            f"await_completed.{ext}")))

    def test_filters(self):
        status, out, _ = self.run_compare("--scenarios", "alpha,await_completed",
                                          "--styles", "explicit,fiber")
        self.assertEqual(status, 0, out)  # beta and the crashing family were filtered out
        self.assertIn("## alpha: identical in explicit, fiber; matches expected.txt", out)
        self.assertNotIn("beta", out)
        self.assertNotIn("Crash", out)
        summary = out.split("Summary:")[1]
        self.assertIn("await_completed", summary)
        self.assertNotIn("create_finish", summary)
        header = next(l for l in summary.splitlines() if l.startswith("operation"))
        self.assertEqual(header.split(), ["operation", "unit", "explicit", "fiber"])
        self.assertNotIn("Every benchmark family", out)  # a filtered run shows the summary only

    def test_quick_runs_only_the_summarys_smallest_benchmarks(self):
        status, out, _ = self.run_compare("--quick", "--scenarios", "alpha,pending_bytes")
        self.assertEqual(status, 0, out)
        self.assertIn("pending_bytes/10000", out)
        self.assertIn("bench_fiber PendingRss: 2 benchmarks x 5", out)
        self.assertNotIn("Crash", out)

    def test_unknown_names_are_rejected_with_the_known_ones(self):
        status, _, err = self.run_compare("--scenarios", "alpah")
        self.assertEqual(status, 2)
        self.assertIn("--scenarios: unknown alpah; known: ", err)
        self.assertIn("alpha", err)
        self.assertIn("skynet", err)
        status, _, err = self.run_compare("--styles", "fibre")
        self.assertEqual(status, 2)
        self.assertIn("--styles: unknown fibre; known: dsl, explicit, fiber", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
