#!/usr/bin/env python3
"""check_trace.py — runs a program with DUET_TRACE=<file> and checks the Chrome trace it wrote.

    check_trace.py PROGRAM TRACE_FILE

Checks: the file is valid JSON with a traceEvents list; on every thread (tid) the B/E events nest
(no E without an open B, none left open); every flow start (ph "s", written where a method
suspends) is followed by a flow end (ph "f", where it is resumed) with the same id, at a later or
equal time, possibly on another thread; at least one suspension and one resumption were traced
and every thread track is named. Exit 1 with a message on the first failure.
"""
import json
import os
import subprocess
import sys


def fail(msg):
    print("check_trace: " + msg)
    sys.exit(1)


def check(path):
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            fail("%s is not valid JSON: %s" % (path, e))
    events = doc.get("traceEvents")
    if not isinstance(events, list) or not events:
        fail("no traceEvents in %s" % path)
    depth = {}
    named = set()
    tids = set()
    open_flows = {}  # id -> ts of its pending start
    flows = 0
    for e in events:
        ph, tid = e["ph"], e["tid"]
        if ph == "M":
            if e.get("name") == "thread_name":
                named.add(tid)
            continue
        tids.add(tid)
        if ph == "B":
            depth[tid] = depth.get(tid, 0) + 1
        elif ph == "E":
            if depth.get(tid, 0) == 0:
                fail("thread %d: an end (E) at ts %s without an open begin" % (tid, e["ts"]))
            depth[tid] -= 1
    for tid, d in depth.items():
        if d:
            fail("thread %d: %d slices never end" % (tid, d))
    # Flows in time order across threads.
    for e in sorted((e for e in events if e["ph"] in "sf"), key=lambda e: (e["ts"], e["ph"] != "s")):
        if e["ph"] == "s":
            if e["id"] in open_flows:
                fail("flow %s started twice before it ended" % e["id"])
            open_flows[e["id"]] = e["ts"]
        elif e["id"] in open_flows:
            del open_flows[e["id"]]
            flows += 1
    if open_flows:
        fail("%d suspensions were never resumed (flows without an end): %s" %
             (len(open_flows), sorted(open_flows)[:5]))
    if flows == 0:
        fail("no suspension -> resumption flow was traced")
    if tids - named:
        fail("threads without a thread_name track: %s" % sorted(tids - named))
    names = {e["name"] for e in events if e["ph"] == "B"}
    if not any(n.startswith("suspend ") for n in names) or not any(n.startswith("resume ") for n in names):
        fail("no suspend/resume slices: %s" % sorted(names))
    print("check_trace: %s: %d events, %d threads, %d suspension->resumption flows, slices nested"
          % (path, len(events), len(tids), flows))


def main():
    if len(sys.argv) != 3:
        fail("usage: check_trace.py PROGRAM TRACE_FILE")
    program, path = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.remove(path)
    env = dict(os.environ, DUET_TRACE=path)
    r = subprocess.run([program], env=env, stdout=subprocess.DEVNULL, timeout=120)
    if r.returncode != 0:
        fail("%s exited with %d" % (program, r.returncode))
    if not os.path.exists(path):
        fail("%s wrote no trace to %s (is the library built with -Dtracing=enabled/auto?)" % (program, path))
    check(path)


if __name__ == "__main__":
    main()
