"""Compare JUnit XML reports of DOT's suite: print every test that passes as-is and not in a pass.

Usage: compare.py AS_IS.xml NAME=OTHER.xml [NAME=OTHER.xml ...]; exits 1 if any test regressed.
"""

import sys
import xml.etree.ElementTree as ET


def outcomes(path: str) -> dict[str, str]:
    result = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            result[name] = "failed"
        elif "skipped" in kinds:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def summary(results: dict[str, str]) -> str:
    counts = {kind: sum(1 for v in results.values() if v == kind) for kind in ("passed", "failed", "skipped")}
    passed, failed, skipped = counts["passed"], counts["failed"], counts["skipped"]
    return f"{len(results)} run: {passed} passed, {failed} failed, {skipped} skipped"


def main(argv: list[str]) -> int:
    as_is = outcomes(argv[1])
    print(f"as-is: {summary(as_is)}")
    regressed = False
    for spec in argv[2:]:
        label, path = spec.split("=", 1)
        other = outcomes(path)
        print(f"{label}: {summary(other)}")
        lost = sorted(
            name for name, kind in as_is.items() if kind == "passed" and other.get(name) != "passed"
        )
        for name in lost:
            print(f"  REGRESSION ({label}): {name} -> {other.get(name, 'not run')}")
        print(f"  {len(lost)} regression(s) with {label}")
        regressed = regressed or bool(lost)
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
