#!/usr/bin/env python3
"""Offline persistent sessions: memory per offline session, catch-up rate, start-up time.

For each broker (sluiced with its commit log, and Mosquitto in memory with no queue limit
when it is installed), started fresh and pinned to one core (the client on the other):
  1. `offline --step sessions`: N persistent sessions subscribe to offline/<i % topics> and
     disconnect;                                      RSS sampled before and after
  2. `offline --step publish`: messages_per_topic QoS 1 messages to every topic, so each
     offline session has a backlog of messages_per_topic;  RSS sampled after
  3. (--kill9, sluiced only) kill -9, restart on the same data dir: time until it listens
     again, and its RSS then
  4. `offline --step catchup`: the sessions reconnect and read their backlogs: deliveries/s,
     broker CPU-seconds, lost / duplicated / out-of-order, peak RSS
Run:  bazel build -c opt //broker:sluiced //tools/bench:offline
      python3 tools/bench/offline.py                       # 10k sessions x 1k messages
      python3 tools/bench/offline.py --sessions 100000 --topics 1000 \\
          --messages-per-topic 1000 --catchup-sessions 1000 --kill9 --no-mosquitto
Python 3 standard library only; prints one table and a JSON line per broker.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_procs import (free_port, limits_preexec, proc_cpu_s, proc_status_kb,  # noqa: E402
                           start_with_ready_fd, stop_process, wait_listening)


def run_step(args, address, step, extra=()):
    cmd = [args.offline, "--broker", address, "--step", step, "--sessions", str(args.sessions),
           "--topics", str(args.topics), "--messages-per-topic", str(args.messages_per_topic),
           "--qos", str(args.qos), "--timeout-s", str(args.timeout_s),
           "--connect-timeout-ms", str(args.connect_timeout_s * 1000),
           "--connect-concurrency", str(args.connect_concurrency), *extra]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                         preexec_fn=limits_preexec(args.client_cpu, None), check=False)
    lines = [l for l in out.stdout.splitlines() if l.startswith("result ")]
    if not lines:
        raise RuntimeError(f"offline --step {step} printed no result (exit {out.returncode})")
    result = json.loads(lines[-1][len("result "):])
    if out.returncode != 0:
        raise RuntimeError(f"offline --step {step}: {result.get('error', out.returncode)}")
    return result


class Proc:
    def __init__(self, kind, args, workdir):
        self.kind, self.args, self.workdir = kind, args, workdir
        self.proc = None
        self.address = None

    def start(self):
        err = open(os.path.join(self.workdir, f"{self.kind}.stderr.log"), "ab")
        t0 = time.monotonic()
        if self.kind == "sluice":
            cmd = [self.args.sluiced, "--listen", self.address or "127.0.0.1:0", "--data-dir",
                   os.path.join(self.workdir, "data"), "--log-level", "warn",
                   "--admin-listen=", "--metrics-listen="]
            self.proc, self.address = start_with_ready_fd(cmd, err, self.args.broker_cpu, None)
        else:
            port = free_port()
            conf = os.path.join(self.workdir, "mosquitto.conf")
            with open(conf, "w") as f:
                # No queue limit and no persistence: Mosquitto keeps every backlog in memory.
                f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "max_queued_messages 0\npersistence false\nlog_dest stderr\n"
                        "log_type error\n")
            self.proc = subprocess.Popen([self.args.mosquitto, "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=limits_preexec(self.args.broker_cpu, None))
            self.address = f"127.0.0.1:{port}"
            wait_listening(port, self.proc, "mosquitto did not start")
        return time.monotonic() - t0

    def rss_mb(self, key="VmRSS"):
        return proc_status_kb(self.proc.pid, key) / 1024

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        stop_process(self.proc, timeout_s=30)


def run_broker(kind, args):
    workdir = tempfile.mkdtemp(prefix=f"offline-{kind}-", dir=args.workdir)
    p = Proc(kind, args, workdir)
    r = {"broker": kind}
    try:
        p.start()
        time.sleep(0.5)
        r["rss_start_mb"] = p.rss_mb()
        s = run_step(args, p.address, "sessions")
        r["sessions_s"] = s["seconds"]
        r["rss_sessions_mb"] = p.rss_mb()
        pub = run_step(args, p.address, "publish")
        r["publish_per_s"] = pub["per_s"]
        r["rss_backlog_mb"] = p.rss_mb()
        r["kb_per_offline_session"] = (r["rss_backlog_mb"] - r["rss_start_mb"]) * 1024 / args.sessions
        if args.kill9 and kind == "sluice":
            p.kill9()
            r["restart_s"] = p.start()  # the same address: the sessions' broker
            r["rss_after_restart_mb"] = p.rss_mb()
        cpu0 = p.cpu_s()
        extra = ["--catchup-sessions", str(args.catchup_sessions)] if args.catchup_sessions else []
        c = run_step(args, p.address, "catchup", extra)
        r["catchup_cpu_s"] = p.cpu_s() - cpu0
        for k in ("sessions", "expected", "delivered", "lost", "duplicates", "out_of_order",
                  "read_s", "per_s", "all_connected_s"):
            r["catchup_" + k] = c[k]
        r["peak_rss_mb"] = p.rss_mb("VmHWM")
    finally:
        p.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return r


def table(results, args):
    rows = [("", *[r["broker"] for r in results])]
    def row(name, fmt, key):
        rows.append((name, *[fmt.format(r[key]) if key in r else "-" for r in results]))
    row("RSS at start (MB)", "{:.1f}", "rss_start_mb")
    row(f"RSS, {args.sessions} sessions offline, no backlog (MB)", "{:.1f}", "rss_sessions_mb")
    row(f"RSS, backlog {args.messages_per_topic} each (MB)", "{:.1f}", "rss_backlog_mb")
    row("KB per offline session (with backlog)", "{:.2f}", "kb_per_offline_session")
    row(f"publish rate (msg/s, QoS {args.qos}, one publisher)", "{:.0f}", "publish_per_s")
    row("start-up after kill -9 (s)", "{:.2f}", "restart_s")
    row("RSS after restart (MB)", "{:.1f}", "rss_after_restart_mb")
    row("catch-up sessions", "{}", "catchup_sessions")
    row("catch-up: all sessions connected after (s)", "{:.1f}", "catchup_all_connected_s")
    row("catch-up: last message after (s)", "{:.1f}", "catchup_read_s")
    row("catch-up deliveries/s", "{:.0f}", "catchup_per_s")
    row("catch-up broker CPU-s", "{:.2f}", "catchup_cpu_s")
    rows.append(("delivered / expected",
                 *[f"{r['catchup_delivered']} / {r['catchup_expected']}" if "catchup_expected" in r
                   else "-" for r in results]))
    row("lost", "{}", "catchup_lost")
    row("duplicates", "{}", "catchup_duplicates")
    row("out of order", "{}", "catchup_out_of_order")
    row("peak RSS (MB)", "{:.1f}", "peak_rss_mb")
    width = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, r in enumerate(rows):
        out.append("| " + " | ".join(str(c).ljust(width[j]) for j, c in enumerate(r)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in width) + "|")
    return "\n".join(out)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", default=os.path.join(root, "bazel-bin/broker/sluiced"))
    ap.add_argument("--offline", default=os.path.join(root, "bazel-bin/tools/bench/offline"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--no-mosquitto", action="store_true")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--messages-per-topic", type=int, default=1000)
    ap.add_argument("--catchup-sessions", type=int, default=0, help="0: all")
    ap.add_argument("--qos", type=int, default=1, choices=(1, 2))
    ap.add_argument("--kill9", action="store_true", help="sluiced: kill -9 and restart before catch-up")
    ap.add_argument("--broker-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--timeout-s", type=int, default=1200)
    ap.add_argument("--connect-concurrency", type=int, default=64,
                    help="connects awaiting CONNACK at most (the reconnect storm's width)")
    ap.add_argument("--connect-timeout-s", type=int, default=600,
                    help="per connection (a reconnect storm's CONNACKs wait behind catch-up)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    for path in (args.sluiced, args.offline):
        if not os.access(path, os.X_OK):
            sys.exit(f"offline.py: {path} not found: bazel build -c opt //broker:sluiced "
                     "//tools/bench:offline")
    kinds = ["sluice"]
    if not args.no_mosquitto and os.access(args.mosquitto, os.X_OK):
        kinds.append("mosquitto")
    with open("/proc/loadavg") as f:
        print("load average before:", f.read().split()[:3])
    results = [run_broker(k, args) for k in kinds]
    print(f"{args.sessions} offline sessions over {args.topics} topics, "
          f"{args.messages_per_topic} QoS {args.qos} messages per topic")
    print(table(results, args))
    for r in results:
        print("json " + json.dumps(r))


if __name__ == "__main__":
    main()
