#!/usr/bin/env python3
"""Compile one snippet and check the outcome.

usage: compile_fail.py (--fail REGEX [--max-errors N] | --pass) SNIPPET -- COMPILER [ARGS...]

--fail: the compiler must reject the snippet and its diagnostics must match REGEX.
--max-errors N: ... with at most N diagnostics that say `error` (one readable error, not a cascade).
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
    max_errors = None
    if '--max-errors' in opts:
        i = opts.index('--max-errors')
        max_errors = int(opts[i + 1])
        del opts[i:i + 2]
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
    errors = [line for line in out.splitlines() if re.search(r'\berror\b', line)
              and not line.lstrip().startswith('In ')
              and not re.search(r'\d+ errors? generated', line)]
    if max_errors is not None and len(errors) > max_errors:
        print(f'{snippet}: {len(errors)} errors, at most {max_errors} expected:\n{out}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
