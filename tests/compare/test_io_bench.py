#!/usr/bin/env python3
"""test_io_bench.py — bench/io/io_bench.py, the server benchmark's driver (no C++, no load).

* Parsing: fixtures/wrk_latency.txt is real output of
      wrk -t1 -c100 -d2s --timeout 10s --latency http://127.0.0.1:<port>/
  against bench/io/io_hello_asio; the figures are checked against the text. Error lines (socket
  errors, non-2xx) and every duration unit wrk prints are checked on made-up lines.
* The report: medians, min-max and the ratios to the baseline and the floor on made-up runs.
* End to end: a fake build directory whose servers are small Python HTTP servers and a fake `wrk`
  first in PATH that replays the fixture; run() must start each server, read its port, load it,
  open idle connections, and report no failure; a server that never announces its port is a
  failure naming it.
"""
import importlib.util
import os
import stat
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(HERE, "fixtures", "wrk_latency.txt")

spec = importlib.util.spec_from_file_location("io_bench", os.path.join(ROOT, "bench", "io", "io_bench.py"))
io_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(io_bench)

with open(FIXTURE, encoding="utf-8") as f:
    FIXTURE_TEXT = f.read()

FAKE_SERVER = textwrap.dedent('''\
    #!{python}
    import socket, sys, threading
    def serve(c):
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                return
            data += chunk
            while b"\\r\\n\\r\\n" in data:
                _, data = data.split(b"\\r\\n\\r\\n", 1)
                c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhello")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    print("listening", s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    ''')

FAKE_WRK = textwrap.dedent('''\
    #!/bin/sh
    cat "{fixture}"
    ''')


def write_exe(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class Parsing(unittest.TestCase):
    def test_the_recorded_wrk_output(self):
        r = io_bench.parse_wrk(FIXTURE_TEXT)
        self.assertEqual(r["rps"], 24930.51)
        self.assertAlmostEqual(r["p50_ms"], 1.79)
        self.assertAlmostEqual(r["p99_ms"], 9.44)
        self.assertEqual(r["requests"], 51202)
        self.assertEqual(io_bench.error_count(r), 0)

    def test_errors_and_non_2xx_count(self):
        text = FIXTURE_TEXT.replace(
            "Requests/sec:", "  Socket errors: connect 1, read 3, write 0, timeout 12\n"
            "  Non-2xx or 3xx responses: 5\nRequests/sec:")
        r = io_bench.parse_wrk(text)
        self.assertEqual(r["errors"], {"connect": 1, "read": 3, "write": 0, "timeout": 12})
        self.assertEqual(r["non2xx"], 5)
        self.assertEqual(io_bench.error_count(r), 21)

    def test_every_duration_unit(self):
        self.assertAlmostEqual(io_bench.duration_ms("812.00us"), 0.812)
        self.assertAlmostEqual(io_bench.duration_ms("1.23ms"), 1.23)
        self.assertAlmostEqual(io_bench.duration_ms("1.26s"), 1260.0)
        self.assertAlmostEqual(io_bench.duration_ms("2.00m"), 120000.0)
        with self.assertRaises(ValueError):
            io_bench.duration_ms("fast")

    def test_only_duets_servers_fail_the_run_on_load_errors(self):
        bad = {"rps": 1.0, "p50_ms": 1.0, "p99_ms": 1.0, "requests": 10, "alive": True,
               "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 19}, "non2xx": 0}
        good = dict(bad, errors={"connect": 0, "read": 0, "write": 0, "timeout": 0})
        self.assertIn("19 errors", io_bench.load_problem(bad))
        self.assertIsNone(io_bench.load_problem(good))
        self.assertIn("died", io_bench.load_problem(dict(good, alive=False)))
        by_name = {s.name: s for s in io_bench.SERVERS}
        for name in ("duet_explicit", "duet_dsl", "duet_fiber"):
            self.assertTrue(io_bench.counts_as_failure(by_name[name]), name)
        for name in ("asio", "boost_fiber", "epoll"):
            self.assertFalse(io_bench.counts_as_failure(by_name[name]), name)

    def test_a_failed_wrk_is_an_error_not_a_zero(self):
        with self.assertRaises(ValueError):
            io_bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def made_up_results():
    servers = [{"name": s.name, "title": s.title, "threads": s.threads} for s in io_bench.SERVERS]

    def runs(*rps):
        return [{"rps": v, "p50_ms": v / 10000, "p99_ms": v / 1000, "requests": 1,
                 "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "non2xx": 0}
                for v in rps]
    load = {io_bench.BASELINE: {100: runs(10, 20, 30, 40, 50)},
            io_bench.FLOOR: {100: runs(40, 40, 40, 80, 10)}}
    memory = {io_bench.BASELINE: [{"bytes_per_conn": b, "idle": 9, "errors": 0} for b in (1000, 900, 1100)]}
    return {"servers": servers, "load": load, "memory": memory,
            "config": {"connections": [100], "repetitions": 5, "duration_s": 1,
                       "duration_large_s": 2, "idle": 9, "wrk_threads": 1}}


class Report(unittest.TestCase):
    def test_medians_spreads_and_ratios(self):
        s = io_bench.summarize(made_up_results())
        base = s["load"][100][io_bench.BASELINE]
        floor = s["load"][100][io_bench.FLOOR]
        self.assertEqual((base["rps"], base["rps_min"], base["rps_max"]), (30, 10, 50))
        self.assertEqual((floor["rps"], floor["rps_min"], floor["rps_max"]), (40, 10, 80))
        self.assertEqual(base["vs_baseline"], 1.0)
        self.assertEqual(base["vs_floor"], 0.75)
        self.assertEqual(floor["vs_baseline"], 40 / 30)
        self.assertEqual(s["memory"][io_bench.BASELINE]["bytes"], 1000)
        text = io_bench.render(made_up_results())
        self.assertIn("30 (10-50)", text)
        self.assertIn("0.75x", text)
        self.assertIn("1000 (900-1100)", text)

    def test_the_table_names_its_baseline_and_floor_once(self):
        names = [s.name for s in io_bench.SERVERS]
        self.assertEqual(len(names), len(set(names)))
        self.assertIn(io_bench.BASELINE, names)
        self.assertIn(io_bench.FLOOR, names)


class EndToEnd(unittest.TestCase):
    def test_a_fake_build_runs_clean_and_a_mute_server_fails_by_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            build = os.path.join(tmp, "build")
            for s in io_bench.SERVERS:
                write_exe(os.path.join(build, s.binary), FAKE_SERVER.format(python=sys.executable))
            bindir = os.path.join(tmp, "bin")
            write_exe(os.path.join(bindir, "wrk"), FAKE_WRK.format(fixture=FIXTURE))
            old_path = os.environ["PATH"]
            os.environ["PATH"] = bindir + os.pathsep + old_path
            try:
                lines = []
                results, failures = io_bench.run(build, repetitions=2, duration=1, connections=(100,),
                                                 idle=3, log=lines.append, seed=1, pin=False)
                self.assertEqual(failures, [])
                for s in io_bench.SERVERS:
                    self.assertEqual(len(results["load"][s.name][100]), 2)
                    self.assertEqual([m["idle"] for m in results["memory"][s.name]], [3, 3])
                self.assertEqual(len(lines), 2 * 2 * len(io_bench.SERVERS))

                mute = io_bench.SERVERS[0]
                write_exe(os.path.join(build, mute.binary), "#!/bin/sh\nexit 0\n")
                _, failures = io_bench.run(build, repetitions=1, duration=1, connections=(100,),
                                           idle=0, log=lambda _: None, names=[mute.name], pin=False)
                self.assertEqual(len(failures), 1)
                self.assertIn(mute.title, failures[0])
                self.assertIn("did not announce", failures[0])
            finally:
                os.environ["PATH"] = old_path

    def test_pinning_runs_every_server_on_cpu_0_and_wrk_on_cpu_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            build = os.path.join(tmp, "build")
            for s in io_bench.SERVERS:
                write_exe(os.path.join(build, s.binary), FAKE_SERVER.format(python=sys.executable))
            bindir = os.path.join(tmp, "bin")
            write_exe(os.path.join(bindir, "wrk"), FAKE_WRK.format(fixture=FIXTURE))
            calls = os.path.join(tmp, "taskset.log")
            # A fake taskset: records "cpu program" and runs the program.
            write_exe(os.path.join(bindir, "taskset"),
                      f'#!/bin/sh\necho "$2 $(basename "$3")" >> {calls}\nshift 2\nexec "$@"\n')
            old_path, old_available = os.environ["PATH"], io_bench.pinning_available
            os.environ["PATH"] = bindir + os.pathsep + old_path
            io_bench.pinning_available = lambda: True
            try:
                results, failures = io_bench.run(build, repetitions=1, duration=1, connections=(100,),
                                                 idle=2, log=lambda _: None, seed=1)
                self.assertEqual(failures, [])
                self.assertTrue(results["config"]["pinned"])
                with open(calls, encoding="utf-8") as f:
                    seen = [line.split() for line in f]
                servers = sorted(os.path.basename(s.binary) for s in io_bench.SERVERS)
                # Each server twice (its load run and its memory run), always on CPU 0; wrk on 1.
                self.assertEqual(sorted(p for c, p in seen if c == "0"), sorted(servers * 2))
                self.assertEqual([p for c, p in seen if c == "1"], ["wrk"] * len(servers))
                self.assertIn("servers pinned to CPU 0, wrk to CPU 1", io_bench.render(results))
            finally:
                os.environ["PATH"] = old_path
                io_bench.pinning_available = old_available


if __name__ == "__main__":
    unittest.main()
