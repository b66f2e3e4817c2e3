#!/usr/bin/env python3
"""Cluster benchmarks (README "Cluster"): a 3-node cluster against the standalone broker.

  throughput  durable QoS 1, 16 publishers x 32 in flight (loadgen, compare.py's
              durable-q1-pub) connected to node 1, which leads about a third of the partitions
              and forwards the rest: publishes/s and broker CPU-s per publish summed over every
              node, beside the standalone sluiced under the same load
              with a second row: QoS 1 fan-in 16 -> 1 with the publishers on node 1 and the
              subscriber on node 2 (every record crosses the cluster)
  connect     5,000 clean MQTT 3.1.1 connections (64 connects pending at most, loadgen's
              conn scenario) to node 1 of the cluster and to the standalone broker: connects/s,
              CONNACK p50/p99 and broker CPU-s per connect. In a cluster every CONNECT first
              claims its client id through the metadata group (one quorum write; README
              "Cluster", session claims)
  failover    16 publishers, one per topic and connection, each publishing QoS 1 one at a time
              through the node leading fewest partitions; the node leading most of the others
              gets SIGKILL: per
              topic whose partition it led, the time from the kill to the next PUBACK; the node
              is restarted and the round repeated
Brokers share core 0 (all of a cluster's nodes on the same core, so CPU-s per message compares
work, not parallelism), clients core 1. Every node: --threads 1, default Raft timeouts.
Run:  bazel build -c opt //broker:sluiced //tools/bench:loadgen
      python3 tools/bench/cluster_bench.py [--rounds 5] [--duration 8]
Python 3 standard library only.
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import shutil
import signal
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_procs import (free_port, limits_preexec, proc_cpu_s, proc_status_kb,  # noqa: E402
                           stop_process)

PARTITIONS = 16


class Node:
    def __init__(self, args, workdir, node_id=None, peers=None, cluster_port=None):
        self.args, self.workdir = args, workdir
        self.node_id, self.peers, self.cluster_port = node_id, peers, cluster_port
        self.proc = None
        self.address = None
        self.metrics = None
        self.mqtt_port = free_port()

    def start(self):
        data = os.path.join(self.workdir, f"n{self.node_id or 0}")
        cmd = [self.args.sluiced, "--listen", f"127.0.0.1:{self.mqtt_port}", "--data-dir", data,
               "--threads", "1", "--log-level", "warn", "--admin-listen=",
               "--metrics-listen=127.0.0.1:0", "--sys-interval-s", "0", "--max-inflight", "100"]
        if self.node_id:
            cmd += ["--node-id", str(self.node_id), "--cluster-listen",
                    f"127.0.0.1:{self.cluster_port}", "--cluster-peers", self.peers]
        err = open(os.path.join(self.workdir, f"n{self.node_id or 0}.log"), "ab")
        r, w = os.pipe()
        self.proc = subprocess.Popen(cmd + ["--ready-fd", str(w)], stdout=subprocess.DEVNULL,
                                     stderr=err, pass_fds=(w,),
                                     preexec_fn=limits_preexec(self.args.broker_cpu, None))
        os.close(w)
        with os.fdopen(r) as ready:
            lines = ready.read().split("\n")
        if not lines[0]:
            raise RuntimeError(f"node {self.node_id} did not start: see {err.name}")
        self.address = lines[0].strip()
        for line in lines[1:]:
            if line.startswith("metrics "):
                self.metrics = line.split()[1]

    def scrape(self):
        with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://{self.metrics}/readyz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def leads(self):
        s = self.scrape()
        return {p for p in range(PARTITIONS)
                if s.get(f'sluice_raft_is_leader{{partition="{p}"}}') == 1}

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        stop_process(self.proc, timeout_s=20)


def start_cluster(args, workdir, n=3):
    ports = {i: free_port() for i in range(1, n + 1)}
    peers = ",".join(f"{i}@127.0.0.1:{p}" for i, p in ports.items())
    nodes = {i: Node(args, workdir, i, peers, ports[i]) for i in ports}
    for node in nodes.values():
        node.start()
    await_ready(nodes.values())
    return nodes


def await_ready(nodes, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    for node in nodes:
        while not node.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {node.node_id} not ready in {timeout_s} s")
            time.sleep(0.1)


def loadgen(args, broker, extra, subscriber_broker=None):
    cmd = [args.loadgen, "--broker", broker, "--duration-s", str(args.duration), *extra.split()]
    if subscriber_broker:
        cmd += ["--subscriber-broker", subscriber_broker]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False,
                         preexec_fn=limits_preexec(args.client_cpu, None))
    for line in out.stdout.splitlines():
        if line.startswith("result "):
            return json.loads(line[len("result "):])
    raise RuntimeError(f"loadgen printed no result (exit {out.returncode})")


DURABLE_PUB = ("--scenario fan-in --publishers 16 --subscribers 0 --topics 16 --qos 1 "
               "--payload-bytes 16 --inflight 32")
FANOUT = ("--scenario fan-in --publishers 16 --subscribers 1 --topics 16 --qos 1 "
          "--payload-bytes 16 --window 32 --inflight 32")


def measured(args, nodes, broker, scenario, subscriber_broker=None):
    cpu0 = {i: proc_cpu_s(n.proc.pid) for i, n in nodes.items()}
    r = loadgen(args, broker, scenario, subscriber_broker)
    cpu = sum(proc_cpu_s(n.proc.pid) - cpu0[i] for i, n in nodes.items())
    rss = {i: proc_status_kb(n.proc.pid, "VmHWM") / 1024 for i, n in nodes.items()}
    return r, cpu, rss


def throughput(args, kind):
    workdir = tempfile.mkdtemp(prefix=f"cluster-bench-{kind}-", dir=args.workdir)
    try:
        if kind == "standalone":
            node = Node(args, workdir)
            node.start()
            nodes = {0: node}
            pub, sub = node.address, None
        else:
            nodes = start_cluster(args, workdir)
            pub, sub = nodes[1].address, nodes[2].address
        rows = {}
        for name, scenario, sub_at in (("publishers only", DURABLE_PUB, None),
                                       ("fan-in 16->1", FANOUT, sub)):
            r, cpu, rss = measured(args, nodes, pub, scenario, sub_at)
            rows[name] = {"result": r, "cpu_s": cpu, "peak_rss_mb": rss}
        return rows
    finally:
        for n in nodes.values():
            n.stop()
        shutil.rmtree(workdir, ignore_errors=True)


CONNECTS = "--scenario conn --clients 5000 --connect-concurrency 64 --idle-s 0"


def connects(args, kind):
    workdir = tempfile.mkdtemp(prefix=f"cluster-bench-conn-{kind}-", dir=args.workdir)
    try:
        if kind == "standalone":
            node = Node(args, workdir)
            node.start()
            nodes = {0: node}
        else:
            nodes = start_cluster(args, workdir)
        broker = nodes[min(nodes)].address
        r, cpu, rss = measured(args, nodes, broker, CONNECTS)
        return {"result": r, "cpu_s": cpu, "peak_rss_mb": rss}
    finally:
        for n in nodes.values():
            n.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---- failover: a minimal MQTT 5 publisher ------------------------------------------------

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def mqtt_str(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def read_packet(sock):
    head = sock.recv(1)
    if not head:
        raise ConnectionError("closed")
    n, shift = 0, 0
    while True:
        b = sock.recv(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return head[0], body


class Publisher(threading.Thread):
    """Publishes QoS 1 to `topic` one at a time; records (time, ok) of every PUBACK."""

    def __init__(self, address, topic, stop):
        super().__init__(daemon=True)
        self.address, self.topic, self.stop = address, topic, stop
        self.acks = []  # (monotonic time, success)
        self.errors = 0

    def connect(self):
        host, port = self.address.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=15)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = "failover-" + self.topic.replace("/", "-")
        body = mqtt_str("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 30) + b"\x00" + mqtt_str(cid)
        s.sendall(packet(0x10, body))
        t, b = read_packet(s)
        if t >> 4 != 2 or b[1] != 0:
            raise ConnectionError("CONNACK refused")
        return s

    def run(self):
        pid = 0
        sock = None
        while not self.stop.is_set():
            try:
                if sock is None:
                    sock = self.connect()
                pid = pid % 65535 + 1
                body = mqtt_str(self.topic) + struct.pack(">H", pid) + b"\x00" + b"x" * 16
                sock.sendall(packet(0x32, body))
                while True:
                    t, b = read_packet(sock)
                    if t >> 4 == 4 and struct.unpack(">H", b[:2])[0] == pid:
                        ok = len(b) < 3 or b[2] < 0x80
                        self.acks.append((time.monotonic(), ok))
                        break
            except (OSError, ConnectionError):
                self.errors += 1
                sock = None  # a 3.1.1-style close, or the node went: reconnect and go on
                time.sleep(0.01)


def partition_of(topic):
    """storage::Partitioner with sluiced's defaults: FNV-1a 64 of the whole topic, mod 16."""
    h = 14695981039346656037
    for b in topic.encode():
        h = ((h ^ b) * 1099511628211) % (1 << 64)
    return h % PARTITIONS


def failover(args):
    workdir = tempfile.mkdtemp(prefix="cluster-bench-failover-", dir=args.workdir)
    nodes = start_cluster(args, workdir)
    samples, failed_acks = [], 0
    try:
        for rnd in range(args.rounds):
            # The clients go through the node leading fewest partitions; the victim is the
            # node among the others leading most (no balancer moves leaders back after a
            # restart, so the roles change from round to round).
            leads = {i: nodes[i].leads() for i in nodes}
            via = min(leads, key=lambda i: len(leads[i]))
            victim = max((i for i in nodes if i != via), key=lambda i: len(leads[i]))
            stop = threading.Event()
            pubs = [Publisher(nodes[via].address, f"fo/{k}", stop) for k in range(16)]
            for p in pubs:
                p.start()
            time.sleep(1.0)  # every publisher acknowledged for a while: the steady state
            t_kill = time.monotonic()
            nodes[victim].kill9()
            time.sleep(args.after_kill)
            stop.set()
            for p in pubs:
                p.join(timeout=20)
            # Per topic whose partition the victim led: how long from the kill to its next
            # successful PUBACK (the others go on within milliseconds).
            for p in pubs:
                if partition_of(p.topic) not in leads[victim]:
                    continue
                after = [t for t, ok in p.acks if ok and t > t_kill]
                last_before = max([t for t, ok in p.acks if ok and t <= t_kill], default=None)
                failed_acks += sum(1 for t, ok in p.acks if not ok)
                if after and last_before is not None:
                    samples.append(after[0] - t_kill)
                else:
                    samples.append(float("inf"))
            nodes[victim].start()
            await_ready(nodes.values())
            print(f"round {rnd + 1}: killed node {victim} (led {len(leads[victim])} partitions); "
                  f"worst topic {max(samples, default=0) * 1000:.0f} ms so far", flush=True)
    finally:
        for n in nodes.values():
            n.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    samples.sort()
    def pct(q):
        return samples[min(len(samples) - 1, int(q * len(samples)))]
    return {"topic_rounds": len(samples), "p50_ms": pct(0.5) * 1000, "p90_ms": pct(0.9) * 1000,
            "p99_ms": pct(0.99) * 1000, "max_ms": samples[-1] * 1000,
            "failed_pubacks": failed_acks}


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", default=os.path.join(root, "bazel-bin/broker/sluiced"))
    ap.add_argument("--loadgen", default=os.path.join(root, "bazel-bin/tools/bench/loadgen"))
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5, help="failover rounds")
    ap.add_argument("--after-kill", type=float, default=5.0, help="s of publishing after a kill")
    ap.add_argument("--only", default="throughput,connect,failover",
                    help="comma-separated: throughput, connect, failover")
    ap.add_argument("--broker-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    for path in (args.sluiced, args.loadgen):
        if not os.access(path, os.X_OK):
            sys.exit(f"cluster_bench.py: {path} not found: bazel build -c opt //broker:sluiced "
                     "//tools/bench:loadgen")
    with open("/proc/loadavg") as f:
        print("load average before:", " ".join(f.read().split()[:3]), flush=True)
    only = args.only.split(",")
    report = {}
    if "throughput" in only:
        for kind in ("standalone", "cluster"):
            report[kind] = throughput(args, kind)
        print("\n| durable QoS 1 | standalone | 3-node cluster | cluster / standalone |")
        print("|---|---:|---:|---:|")
        for name in ("publishers only", "fan-in 16->1"):
            s, c = report["standalone"][name], report["cluster"][name]
            rate = lambda x: x["result"].get("acked_per_s", 0)
            # every PUBACK of the run (connect to drain) over the brokers' CPU in that time
            per_cpu = lambda x: x["result"].get("acked", 0) / max(x["cpu_s"], 1e-9)
            print(f"| {name}: publishes/s | {rate(s):,.0f} | {rate(c):,.0f} | "
                        f"{rate(c) / max(rate(s), 1):.2f}x |")
            print(f"| {name}: publishes per broker CPU-s (all nodes) | {per_cpu(s):,.0f} | "
                  f"{per_cpu(c):,.0f} | {per_cpu(c) / max(per_cpu(s), 1):.2f}x |")
            if name != "publishers only":
                d = lambda x: x["result"].get("delivered_per_s", 0)
                p99 = lambda x: x["result"].get("e2e_p99_ns", 0) / 1e6
                print(f"| {name}: delivered/s | {d(s):,.0f} | {d(c):,.0f} | |")
                print(f"| {name}: e2e p99 (ms) | {p99(s):.1f} | {p99(c):.1f} | |")
            print(f"| {name}: peak RSS per node (MB) | "
                  f"{max(s['peak_rss_mb'].values()):.0f} | {max(c['peak_rss_mb'].values()):.0f} | |")
    if "connect" in only:
        rows = {kind: connects(args, kind) for kind in ("standalone", "cluster")}
        report["connect"] = rows
        print("\n| 5,000 clean connects, 64 pending | standalone | 3-node cluster |")
        print("|---|---:|---:|")
        g = lambda k, key: rows[k]["result"].get(key, 0)
        print(f"| connects ok / failed | {g('standalone', 'connect_ok'):.0f} / "
              f"{g('standalone', 'connect_failed'):.0f} | {g('cluster', 'connect_ok'):.0f} / "
              f"{g('cluster', 'connect_failed'):.0f} |")
        print(f"| connects/s | {g('standalone', 'connect_rate_per_s'):,.0f} | "
              f"{g('cluster', 'connect_rate_per_s'):,.0f} |")
        for q in ("p50", "p99"):
            print(f"| CONNACK {q} (ms) | {g('standalone', f'connect_{q}_ns') / 1e6:.2f} | "
                  f"{g('cluster', f'connect_{q}_ns') / 1e6:.2f} |")
        per = lambda k: rows[k]["cpu_s"] * 1e6 / max(g(k, "connect_ok"), 1)
        print(f"| broker CPU-µs per connect (all nodes) | {per('standalone'):.0f} | "
              f"{per('cluster'):.0f} |")
    if "failover" in only:
        report["failover"] = failover(args)
        f = report["failover"]
        print(f"\nfailover (leader kill -9 -> PUBACK again), {f['topic_rounds']} topic-rounds: "
              f"p50 {f['p50_ms']:.0f} ms, p90 {f['p90_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms, "
              f"max {f['max_ms']:.0f} ms; {f['failed_pubacks']} PUBACKs with 0x80 (outcome "
              "unknown; the publisher moves on)")
    print("json " + json.dumps(report, default=str))


if __name__ == "__main__":
    main()
