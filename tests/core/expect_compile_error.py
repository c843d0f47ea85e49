#!/usr/bin/env python3
"""expect_compile_error.py SOURCE CASE=TEXT [CASE=TEXT ...] -- COMPILER ARGS...

Compiles SOURCE (syntax only) once with no case macro, which must succeed, then once per
CASE with -DCASE, which must fail with TEXT in the compiler's output: misuse of the awaiter
interface must be rejected at compile time with a readable message."""
import subprocess
import sys


def compile_(cmd, source, define=None):
    args = list(cmd) + ['-fsyntax-only', source]
    if define:
        args.append('-D' + define)
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def main():
    sep = sys.argv.index('--')
    source, cases, cmd = sys.argv[1], sys.argv[2:sep], sys.argv[sep + 1:]
    rc, out = compile_(cmd, source)
    if rc != 0:
        print('control compile (no case macro) failed:\n' + out)
        return 1
    failures = 0
    for case in cases:
        name, text = case.split('=', 1)
        rc, out = compile_(cmd, source, name)
        if rc == 0:
            print(f'{name}: compiled, but it must not')
            failures += 1
        elif text not in out:
            print(f'{name}: failed to compile without the expected message {text!r}:\n{out}')
            failures += 1
        else:
            print(f'{name}: rejected with {text!r}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
