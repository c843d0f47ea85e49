#!/usr/bin/env python3
"""compare_output.py EXE EXPECTED — run EXE and require its stdout to equal EXPECTED exactly."""
import difflib
import subprocess
import sys


def main() -> int:
    exe, expected_path = sys.argv[1], sys.argv[2]
    try:
        with open(expected_path, encoding="utf-8") as f:
            expected = f.read()
    except FileNotFoundError:
        print(f"missing golden output {expected_path}: write the sample's exact output there")
        return 1
    proc = subprocess.run([exe], capture_output=True, text=True, timeout=100)
    if proc.returncode != 0:
        print(f"{exe} exited with {proc.returncode}\nstderr:\n{proc.stderr}")
        return 1
    if proc.stdout != expected:
        diff = difflib.unified_diff(expected.splitlines(True), proc.stdout.splitlines(True),
                                    "expected", "actual")
        sys.stdout.writelines(diff)
        return 1
    print(f"{exe}: output matches {expected_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
