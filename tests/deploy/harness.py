"""A minimal test-case recorder for the deploy checks (Python 3 standard library only).

Each check is one case: it passes, fails (with a message) or is skipped (with a reason). The
cases are printed as they finish and written as JUnit XML to $XML_OUTPUT_FILE, which Bazel
keeps as the target's test.xml, so tools/ci/count_tests.py counts every case (not one per
target). The process exit code is 1 when any case failed.
"""
import os
import sys
import time
import traceback
import xml.etree.ElementTree as ET


class Failure(Exception):
    """A check's expectation did not hold; the message says what and where."""


class Skip(Exception):
    """The check cannot run here; the message says why."""


def expect(condition, message):
    if not condition:
        raise Failure(message)


def expect_no_problems(problems, what):
    if problems:
        raise Failure(f"{what}:\n  " + "\n  ".join(problems))


class Suite:
    def __init__(self, name):
        self.name = name
        self.cases = []  # (name, status, message, seconds)

    def run(self, case_name, fn, *args):
        start = time.monotonic()
        try:
            note = fn(*args)
            status, message = "passed", note or ""
        except Skip as e:
            status, message = "skipped", str(e)
        except Failure as e:
            status, message = "failed", str(e)
        except Exception:  # a bug in the check itself still fails the case, visibly
            status, message = "failed", traceback.format_exc()
        seconds = time.monotonic() - start
        self.cases.append((case_name, status, message, seconds))
        tag = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[status]
        line = f"{tag} {case_name} ({seconds:.1f}s)"
        if message:
            line += ":\n    " + message.replace("\n", "\n    ")
        print(line, flush=True)
        return status == "passed"

    def finish(self):
        counts = {s: sum(1 for c in self.cases if c[1] == s) for s in ("passed", "failed", "skipped")}
        path = os.environ.get("XML_OUTPUT_FILE")
        if path:
            suite = ET.Element("testsuite", name=self.name, tests=str(len(self.cases)),
                               failures=str(counts["failed"]), skipped=str(counts["skipped"]))
            for name, status, message, seconds in self.cases:
                case = ET.SubElement(suite, "testcase", classname=self.name, name=name,
                                     time=f"{seconds:.3f}")
                if status == "failed":
                    ET.SubElement(case, "failure", message=message.splitlines()[0][:200] if message else "failed").text = message
                elif status == "skipped":
                    ET.SubElement(case, "skipped", message=message)
            root = ET.Element("testsuites")
            root.append(suite)
            ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
        print(f"{self.name}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
        return 1 if counts["failed"] else 0


def repo_root():
    """The workspace root: Bazel's runfiles tree under `bazel test`, else this file's repo."""
    srcdir, workspace = os.environ.get("TEST_SRCDIR"), os.environ.get("TEST_WORKSPACE")
    if srcdir and workspace and os.path.isdir(os.path.join(srcdir, workspace)):
        return os.path.join(srcdir, workspace)
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tmp_dir():
    path = os.environ.get("TEST_TMPDIR")
    if not path:
        import tempfile
        path = tempfile.mkdtemp(prefix="sluice-deploy-test-")
    return path


def exit_with(suite):
    sys.exit(suite.finish())
