#!/usr/bin/env python3
"""compare_output.py EXE EXPECTED [--runs N] — run EXE (N times, default 1) and require its stdout
to equal EXPECTED exactly on every run: a sample's output must not depend on thread timing."""
import argparse
import difflib
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("exe")
    parser.add_argument("expected_path")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    exe, expected_path = args.exe, args.expected_path
    try:
        with open(expected_path, encoding="utf-8") as f:
            expected = f.read()
    except FileNotFoundError:
        print(f"missing golden output {expected_path}: write the sample's exact output there")
        return 1
    for run in range(1, args.runs + 1):
        proc = subprocess.run([exe], capture_output=True, text=True, timeout=100)
        if proc.returncode != 0:
            print(f"{exe} (run {run}) exited with {proc.returncode}\nstderr:\n{proc.stderr}")
            return 1
        if proc.stdout != expected:
            print(f"{exe}: run {run} of {args.runs} differs from {expected_path}:")
            diff = difflib.unified_diff(expected.splitlines(True), proc.stdout.splitlines(True),
                                        "expected", "actual")
            sys.stdout.writelines(diff)
            return 1
    print(f"{exe}: output matches {expected_path} on all {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
