#!/usr/bin/env python3
"""Compile one snippet and check the outcome.

usage: compile_fail.py (--fail REGEX | --pass) SNIPPET -- COMPILER [ARGS...]

--fail: the compiler must reject the snippet and its diagnostics must match REGEX.
--pass: the compiler must accept it (the control case).
"""
import re
import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    sep = args.index('--')
    opts, compiler = args[:sep], args[sep + 1:]
    mode = opts[0]
    if mode == '--fail':
        pattern, snippet = opts[1], opts[2]
    else:
        pattern, snippet = None, opts[1]
    cmd = compiler + ['-fsyntax-only', snippet]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if pattern is None:
        if proc.returncode != 0:
            print('control snippet failed to compile:\n' + out)
            return 1
        return 0
    if proc.returncode == 0:
        print(f'{snippet} compiled, but it must not')
        return 1
    if not re.search(pattern, out):
        print(f'{snippet} failed without the expected message /{pattern}/:\n{out}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
