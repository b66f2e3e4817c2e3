#!/usr/bin/env python3
"""Runs the Eclipse Paho MQTT interoperability suites against a running broker.

The suites are not part of Sluice: fetch eclipse/paho.mqtt.testing yourself and point
--suite at its interoperability/ folder. Each test runs in its own process, stopped after
--timeout seconds (some tests wait without a timeout of their own).

  python3 tools/paho/run_paho.py --suite /path/to/paho.mqtt.testing/interoperability \
      --host 127.0.0.1 --port 1883 [--only v3|v5] [--test NAME] [--spread H:P,H:P,...]

--spread (a cluster): each suite client connects to the node its client id hashes to (CRC-32
mod the number of nodes; the same id always to the same node, since a session lives on the
node its client is connected to until issue 15), so one test's clients are spread over the
nodes; --host/--port still serve the tests' raw sockets.

The broker must refuse subscriptions to test/nosubscribe, e.g. sluiced --deny-subscribe=test/nosubscribe.
Prints one line per test and a final "N passed, N failed".
"""
import argparse
import re
import subprocess
import sys

CHILD = r"""
import sys, unittest, logging
sys.path.insert(0, {suite!r})
import {module} as t
t.host = {host!r}
t.port = {port}
prefix = {prefix!r}
t.topic_prefix = prefix
t.topics = [prefix + x for x in ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")]
t.wildtopics = [prefix + x for x in ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")]
t.nosubscribe_topics = ("test/nosubscribe",)
spread = {spread!r}
if spread:
    import zlib
    nodes = [(h, int(p)) for h, p in (a.rsplit(":", 1) for a in spread.split(","))]
    connect = t.mqtt_client.Client.connect
    def spread_connect(self, host=None, port=None, *args, **kwargs):
        cid = self.clientid if isinstance(self.clientid, bytes) else self.clientid.encode()
        host, port = nodes[zlib.crc32(cid) % len(nodes)]
        return connect(self, host, port, *args, **kwargs)
    t.mqtt_client.Client.connect = spread_connect
logging.getLogger().setLevel(logging.ERROR)
r = unittest.main(module=t, argv=["paho", "Test.{name}"], exit=False)
sys.exit(0 if r.result.wasSuccessful() else 1)
"""


def tests_of(path):
    with open(path) as f:
        return re.findall(r"^\s+def (test\w*)\(self\)", f.read(), re.M)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="paho.mqtt.testing/interoperability folder")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--only", choices=["v3", "v5"])
    ap.add_argument("--test", help="run only this test name")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--spread", default="",
                    help="HOST:PORT,...: the nodes of a cluster; clients spread by client id")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each test's output")
    args = ap.parse_args()
    suites = [("v3", "client_test", ""), ("v5", "client_test5", "client_test5/")]
    passed = failed = 0
    for tag, module, prefix in suites:
        if args.only and args.only != tag:
            continue
        for name in tests_of(f"{args.suite}/{module}.py"):
            if args.test and args.test != name:
                continue
            code = CHILD.format(suite=args.suite, module=module, host=args.host,
                                port=args.port, prefix=prefix, name=name, spread=args.spread)
            try:
                p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                   text=True, timeout=args.timeout)
                ok = p.returncode == 0
                detail = (p.stdout + p.stderr)
            except subprocess.TimeoutExpired:
                ok, detail = False, f"timed out after {args.timeout}s"
            passed += ok
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {tag} {name}", flush=True)
            if args.verbose or not ok:
                print("    " + detail.strip().replace("\n", "\n    ")[-3000:], flush=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
