#!/usr/bin/env python3
"""Counts real test cases (gtest cases, not Bazel targets) from Bazel's test.xml files.

Usage: count_tests.py TESTLOGS_DIR [--extra-failed N]
(--extra-failed adds failures that left no XML at all, e.g. a stage whose build failed.)
Prints failing cases and a final line "N passed, N failed, N skipped". A test target that
left no XML (it crashed or timed out before writing any) counts as one failed case.
Exits 1 when anything failed.
"""
import os
import sys
import xml.etree.ElementTree as ET


def main():
    root = sys.argv[1]
    passed = failed = skipped = 0
    if len(sys.argv) == 4 and sys.argv[2] == "--extra-failed":
        failed += int(sys.argv[3])
    for dirpath, _, files in os.walk(root):
        if "test.xml" not in files:
            continue
        path = os.path.join(dirpath, "test.xml")
        target = os.path.relpath(dirpath, root)
        try:
            tree = ET.parse(path)
        except ET.ParseError:
            print(f"FAILED {target}: unreadable test.xml")
            failed += 1
            continue
        cases = list(tree.iter("testcase"))
        if not cases:
            print(f"FAILED {target}: no test cases reported")
            failed += 1
            continue
        for case in cases:
            name = f"{target} {case.get('classname', '')}.{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                print(f"FAILED {name}")
                failed += 1
            elif case.find("skipped") is not None or case.get("status") == "notrun" \
                    or case.get("result") == "skipped":
                skipped += 1
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
