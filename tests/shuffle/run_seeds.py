#!/usr/bin/env python3
"""run_seeds.py — runs one gtest binary under the schedule shuffler once per seed.

    run_seeds.py [--seeds N] [--first-seed S] BINARY [GTEST ARGS...]

Each run sets DUET_SCHEDULE_SEED (src/detail/schedule_shuffler.cpp turns the shuffler on and
says so on stderr; a run that does not say so fails: it did not shuffle). Seeds are S .. S+N-1
(S defaults to $DUET_SHUFFLE_FIRST_SEED, else 1, so CI can move the window). Every seed runs;
each failing seed is reported with the command that replays it. Exit status 1 when any failed.
"""
import argparse
import os
import subprocess
import sys
import time

BANNER = "duet: schedule shuffler on, DUET_SCHEDULE_SEED="


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=int(os.environ.get("DUET_SHUFFLE_FIRST_SEED", "1")))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per seed")
    ap.add_argument("binary")
    ap.add_argument("gtest_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    failed = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        env = dict(os.environ, DUET_SCHEDULE_SEED=str(seed))
        cmd = [a.binary, "--gtest_brief=1"] + a.gtest_args
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace", timeout=a.timeout)
            out, rc = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            out += f"\n(timed out after {a.timeout:.0f} s: a hang under this schedule)\n"
            rc = -1
        dt = time.monotonic() - t0
        replay = f"DUET_SCHEDULE_SEED={seed} {' '.join(cmd)}"
        if rc == 0 and BANNER + str(seed) not in out:
            out += "\n(the shuffler did not report itself on: this build has it compiled out?)\n"
            rc = 1
        if rc != 0:
            failed.append(seed)
            print(f"seed {seed}: FAILED (exit {rc}, {dt:.1f} s); replay: {replay}")
            print("\n".join(out.splitlines()[-60:]))
        else:
            print(f"seed {seed}: ok ({dt:.1f} s)")
        sys.stdout.flush()
    if failed:
        print(f"{len(failed)} of {a.seeds} seeds failed: {failed}")
        return 1
    print(f"all {a.seeds} seeds passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
