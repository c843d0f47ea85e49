#!/usr/bin/env python3
"""check_layers.py — enforces the layers of docs/design.md over the #include lines.

    diag <- core <- context <- time <- compose <- value_task <- coord <- sm / fiber / asio <- net;
    detail usable by all (diag: the registry of suspended methods, which every layer above
    reports to, so it sits just above detail)

A header in include/duet/<layer>/ and a source in src/<layer>/ may include duet headers of its own
layer and of the layers below it, never of a layer above (sm, fiber and asio, side by side at the
top, never include each other: the Asio bridge hands out Tasks every style awaits). detail/ includes only detail/. include/duet/duet.hpp, the umbrella, is
the one file outside the layers.

Usage: check_layers.py ROOT         checks ROOT/include and ROOT/src; exit 1 and one line per
                                    violation when a rule is broken
       check_layers.py --self-test  runs the checker on a made-up tree with known violations and
                                    fails unless it reports exactly those
"""
import os
import re
import sys
import tempfile

RANK = {"detail": 0, "diag": 0.5, "core": 1, "context": 2, "time": 3, "compose": 4, "value_task": 5,
        "coord": 6, "sm": 7, "fiber": 7, "asio": 7, "net": 8}
TOP = {"sm", "fiber", "asio"}  # side by side: none includes another
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]duet/([^>"]+)[>"]')


def layer_of(rel):
    """The layer of a path below include/duet or src (its first folder), or None."""
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 and parts[0] in RANK else None


def allowed(src, dst):
    if src == "detail":
        return dst == "detail"
    if src != dst and src in TOP and dst in TOP:
        return False
    return RANK[dst] <= RANK[src]


def check(root):
    errors = []
    for top in ("include/duet", "src"):
        base = os.path.join(root, top)
        for dirpath, _, files in os.walk(base):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, base).replace(os.sep, "/")
                where = f"{top}/{rel}"
                if top == "include/duet" and rel == "duet.hpp":
                    continue
                src = layer_of(rel)
                if src is None:
                    errors.append(f"{where}: not in a layer folder ({', '.join(RANK)})")
                    continue
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = layer_of(m.group(1))
                        if dst is None:
                            errors.append(f"{where}:{lineno}: includes duet/{m.group(1)}, which is "
                                          "in no layer (the umbrella is for users only)")
                        elif not allowed(src, dst):
                            errors.append(f"{where}:{lineno}: layer '{src}' includes "
                                          f"duet/{m.group(1)} of layer '{dst}', which is above it "
                                          "or beside it (docs/design.md, \"Layers\")")
    return errors


def self_test():
    files = {
        "include/duet/duet.hpp": '#include "duet/sm/dsl.hpp"\n',
        "include/duet/core/ok.hpp": '#include "duet/detail/assert.hpp"\n#include <vector>\n',
        "include/duet/core/up.hpp": '#include "duet/context/execution_context.hpp"\n',
        "include/duet/compose/ok.hpp": '#include "duet/time/delay.hpp"\n#include "duet/core/task.hpp"\n',
        "include/duet/value_task/up.hpp": '  #  include <duet/sm/method_builder_core.hpp>\n',
        "include/duet/sm/beside.hpp": '#include "duet/fiber/fiber.hpp"\n',
        "include/duet/asio/beside.hpp": '#include "duet/sm/dsl.hpp"\n',
        "include/duet/asio/ok.hpp": '#include "duet/time/cancellation.hpp"\n',
        "include/duet/detail/up.hpp": '#include "duet/core/continuation.hpp"\n',
        "include/duet/loose.hpp": "\n",
        "src/core/up.cpp": '#include "duet/compose/when_all.hpp"\n',
        "src/fiber/ok.cpp": '#include "duet/value_task/value_task.hpp"\n#include "stack_pool.hpp"\n',
        "src/time/umbrella.cpp": '#include "duet/duet.hpp"\n',
    }
    expected = {"include/duet/core/up.hpp:1", "include/duet/value_task/up.hpp:1",
                "include/duet/sm/beside.hpp:1", "include/duet/asio/beside.hpp:1",
                "include/duet/detail/up.hpp:1",
                "include/duet/loose.hpp", "src/core/up.cpp:1", "src/time/umbrella.cpp:1"}
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        found = {e.split(": ")[0] for e in check(root)}
    if found != expected:
        print("self-test FAILED: expected violations", sorted(expected), "got", sorted(found))
        return 1
    print(f"self-test passed: the {len(expected)} planted violations were reported, nothing else")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    errors = check(argv[1])
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} layering violation(s)")
        return 1
    print("layers respected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
