"""Fail unless the tests that need PostgreSQL/Redis ran and none of them was skipped."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

SERVICE_PREFIXES = ("tests.integration", "tests.e2e", "tests.browser")


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    ran = skipped = failed = 0
    skipped_names: list[str] = []
    for case in root.iter("testcase"):
        if not case.get("classname", "").startswith(SERVICE_PREFIXES):
            continue
        if case.find("skipped") is not None:
            skipped += 1
            skipped_names.append(f"{case.get('classname')}::{case.get('name')}")
        elif case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            ran += 1
    print(f"PostgreSQL/Redis tests: {ran} passed, {failed} failed, {skipped} skipped")
    for name in skipped_names:
        print(f"  skipped: {name}")
    if ran == 0 or skipped or failed:
        print("FAIL: every PostgreSQL/Redis test must run and pass")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
