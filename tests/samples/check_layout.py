#!/usr/bin/env python3
"""check_layout.py SAMPLES_DIR STYLES SCENARIO... — the samples' shape (samples/meson.build):

* every directory under SAMPLES_DIR except common/ is a registered scenario, and every
  registered scenario has a directory;
* each scenario has its program once, in driver.hpp (which defines main()), its golden output in
  expected.txt, and one file per style, <style>.cpp, which includes driver.hpp and holds only
  the async methods (no main(): a reader diffing two styles sees only the style).
"""
import pathlib
import re
import sys

MAIN = re.compile(r"^int main\(", re.MULTILINE)


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    styles = sys.argv[2].split(",")
    scenarios = sys.argv[3:]
    problems = []
    dirs = {p.name for p in root.iterdir() if p.is_dir() and p.name != "common"}
    for name in sorted(dirs - set(scenarios)):
        problems.append(f"samples/{name}/ is not listed in sample_scenarios (samples/meson.build)")
    for scenario in scenarios:
        d = root / scenario
        if not d.is_dir():
            problems.append(f"sample_scenarios lists {scenario}, "
                            f"but samples/{scenario}/ is missing")
            continue
        driver = d / "driver.hpp"
        if not driver.is_file():
            problems.append(f"samples/{scenario}/driver.hpp is missing: "
                            f"main() and its helpers go there")
        elif not MAIN.search(driver.read_text(encoding="utf-8")):
            problems.append(f"samples/{scenario}/driver.hpp does not define main()")
        if not (d / "expected.txt").is_file():
            problems.append(f"samples/{scenario}/expected.txt is missing: the golden output")
        for style in styles:
            src = d / f"{style}.cpp"
            if not src.is_file():
                problems.append(f"samples/{scenario}/{style}.cpp is missing: every scenario is "
                                f"written in every style")
                continue
            text = src.read_text(encoding="utf-8")
            if '#include "driver.hpp"' not in text:
                problems.append(f"samples/{scenario}/{style}.cpp does not include driver.hpp")
            if MAIN.search(text):
                problems.append(f"samples/{scenario}/{style}.cpp defines main(); it belongs in "
                                f"driver.hpp, shared by the styles")
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(scenarios)} scenarios x {len(styles)} styles: driver.hpp, expected.txt and "
              f"every style present")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
