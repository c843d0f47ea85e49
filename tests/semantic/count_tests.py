#!/usr/bin/env python3
"""count_tests.py — how much of duet's method-level testing runs in all three styles.

A *method-level* test exercises the behaviour of an async method (what it returns, when it
suspends and resumes, where, with which context, how it faults or is canceled). A *mechanism*
test exercises one style's or one type's machinery instead (the builder's box and its
allocations, the DSL's compile errors and exit guard, fiber stacks and switches, the timer wheel,
the ValueTask source protocol...).

Counted:
  three-style  every test in tests/semantic/*.cpp that runs once per style:
               - a TYPED_TEST whose TYPED_TEST_SUITE type list names Explicit, Dsl and Fiber
                 (AllStyles, or a local `using X = ::testing::Types<...>` naming all three);
               - a TEST_P whose suite is instantiated over registered_styles() or
                 registered_context_styles() (the StyleRegistry tests check all three register).
               Each such test counts once (not once per style).
  single-style every test in the other tests/<area>/*.cpp files that is NOT listed in
               mechanism_tests.txt. The default is "method-level": a test is only left out by
               listing it there with the reason it is a mechanism test, so the ratio cannot
               improve by forgetting to classify a test.

Plain TEST()s in tests/semantic (the registry checks) are suite infrastructure and not counted.

Usage:
  count_tests.py [--root TESTS_DIR] [--list] [--check RATIO]
    --list   also print every single-style method-level test and every mechanism test
    --check  exit 1 if three-style / (three-style + single-style) < RATIO, or if
             mechanism_tests.txt names a test that does not exist (stale entries)
"""
import argparse
import fnmatch
import pathlib
import re
import sys

TEST_RE = re.compile(r'^\s*(TEST|TEST_F|TEST_P|TYPED_TEST)\(\s*(\w+)\s*,\s*(\w+)\s*\)', re.M)
TYPED_SUITE_RE = re.compile(r'TYPED_TEST_SUITE\(\s*(\w+)\s*,\s*([\w:]+)')
TYPES_ALIAS_RE = re.compile(r'using\s+(\w+)\s*=\s*::testing::Types<(.*?)>;', re.S)
INSTANTIATE_RE = re.compile(
    r'INSTANTIATE_TEST_SUITE_P\(\s*\w+\s*,\s*(\w+)\s*,\s*::testing::ValuesIn\((registered_\w+)\(\)\)')
STYLE_REGISTRIES = {'registered_styles', 'registered_context_styles'}
SKIPPED_AREAS = {'semantic', 'samples', 'support'}


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def all_three(types_text):
    return all(re.search(r'\b%s\b' % s, types_text) for s in ('Explicit', 'Dsl', 'Fiber'))


def semantic_tests(root):
    """(three_style, infrastructure) lists of 'file::Suite.Name' in tests/semantic."""
    three, infra = [], []
    for path in sorted((root / 'semantic').glob('*.cpp')):
        text = strip_comments(path.read_text())
        rel = path.relative_to(root).as_posix()
        aliases = {m.group(1): m.group(2) for m in TYPES_ALIAS_RE.finditer(text)}
        typed_all = set()
        for m in TYPED_SUITE_RE.finditer(text):
            suite, types = m.group(1), m.group(2).split('::')[-1]
            if types == 'AllStyles' or (types in aliases and all_three(aliases[types])):
                typed_all.add(suite)
        param_all = {m.group(1) for m in INSTANTIATE_RE.finditer(text) if m.group(2) in STYLE_REGISTRIES}
        for m in TEST_RE.finditer(text):
            kind, suite, name = m.groups()
            key = '%s::%s.%s' % (rel, suite, name)
            if (kind == 'TYPED_TEST' and suite in typed_all) or (kind == 'TEST_P' and suite in param_all):
                three.append(key)
            else:
                infra.append(key)
    return three, infra


def area_tests(root):
    tests = []
    for path in sorted(root.glob('*/*.cpp')):
        if path.parent.name in SKIPPED_AREAS:
            continue
        text = strip_comments(path.read_text())
        rel = path.relative_to(root).as_posix()
        for m in TEST_RE.finditer(text):
            tests.append('%s::%s.%s' % (rel, m.group(2), m.group(3)))
    return tests


def read_manifest(path):
    """[(pattern, reason)] from mechanism_tests.txt: `pattern  # reason` per line."""
    entries = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if '#' not in line:
            sys.exit('%s:%d: a mechanism entry needs its reason after "#": %s' % (path, n, line))
        pattern, reason = (part.strip() for part in line.split('#', 1))
        if not reason:
            sys.exit('%s:%d: empty reason for %s' % (path, n, pattern))
        entries.append((pattern, reason))
    return entries


def main():
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=str(here.parent), help='the tests/ directory')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--check', type=float)
    args = ap.parse_args()
    root = pathlib.Path(args.root)

    three, infra = semantic_tests(root)
    manifest = read_manifest(root / 'semantic' / 'mechanism_tests.txt')
    single, mechanism = [], []
    used = set()
    for t in area_tests(root):
        hit = next((p for p, _ in manifest if fnmatch.fnmatchcase(t, p)), None)
        if hit is None:
            single.append(t)
        else:
            mechanism.append(t)
            used.add(hit)
    stale = [p for p, _ in manifest if p not in used]

    total = len(three) + len(single)
    ratio = len(three) / total if total else 1.0
    print('method-level tests run in all three styles: %d' % len(three))
    print('method-level tests run in one style only:   %d' % len(single))
    print('ratio: %d / %d = %.1f%%' % (len(three), total, 100.0 * ratio))
    print('(not counted: %d mechanism tests in the per-area folders, %d suite-infrastructure tests '
          'in tests/semantic)' % (len(mechanism), len(infra)))
    if args.list:
        print('\nsingle-style method-level tests:')
        for t in single:
            print('  ' + t)
        print('\nmechanism tests:')
        for t in mechanism:
            print('  ' + t)
    failed = False
    if stale:
        print('\nmechanism_tests.txt entries that match no test (remove them):')
        for p in stale:
            print('  ' + p)
        failed = args.check is not None
    if args.check is not None and ratio < args.check:
        print('\nFAIL: %.1f%% of the method-level tests run in all three styles; the target is %.0f%%'
              % (100.0 * ratio, 100.0 * args.check))
        failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
