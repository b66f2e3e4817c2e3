#!/usr/bin/env python3
"""Side-by-side benchmark of Sluice and Mosquitto with tools/bench/loadgen.

For every scenario, runs the same loadgen command against a fresh sluiced and a fresh
mosquitto (generated config on a free loopback port), alternating which goes first, several
times; samples each broker's CPU seconds (/proc/PID/stat utime+stime) over the measured window
and its peak RSS (VmHWM); prints a table of medians with the ratio Sluice/Mosquitto, and the
issue's targets met or missed. Brokers get core 0 and loadgen core 1 when there are two.

  python3 tools/bench/compare.py                   # full comparison (~7 minutes)
  python3 tools/bench/compare.py --smoke           # a few seconds per scenario, checks sanity
  python3 tools/bench/compare.py --scenarios p2p-q1,conn-15k --runs 1
  python3 tools/bench/compare.py --fd-check        # broker behaviour when out of descriptors
  python3 tools/bench/compare.py --scenarios durable-q1 --runs 1 --half-rate-runs 0  # ~30 s

Durable scenarios (durable-*) run three brokers: sluiced --log-fsync=batch (PUBACK after the
fsync of the group commit holding the publish), sluiced --log-fsync=none, and Mosquitto with
`persistence true`, which keeps messages in memory and writes its database file only every
autosave_interval (default 1800 s) and at shutdown: it never writes or fsyncs before PUBACK.
Data directories are under --workdir (default $TMPDIR or /tmp), which must be a real disk for
the fsync figures to mean anything; the table states its file system and one measured fsync.

Binaries come from `bazel build` (startup options from $BAZEL_STARTUP_OPTS, build options
from $BAZEL_BUILD_OPTS) unless --sluiced/--loadgen are given. Python 3 standard library only.
"""

import argparse
import json
import os
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> (loadgen arguments, description). Windows keep the brokers' queues (1000 per
# session) from overflowing in closed-loop maximum-rate runs, so loss means a broker bug.
SCENARIOS = {
    "p2p-q1": ("--scenario p2p --clients 1000 --qos 1 --payload-bytes 16 --window 8",
               "p2p 1k pairs, QoS 1, 16 B"),
    "fanin-q0": ("--scenario fan-in --publishers 100 --subscribers 1 --topics 100 --qos 0 "
                 "--payload-bytes 16 --window 5", "fan-in 100->1, QoS 0"),
    "fanin-q1": ("--scenario fan-in --publishers 100 --subscribers 1 --topics 100 --qos 1 "
                 "--payload-bytes 16 --window 5", "fan-in 100->1, QoS 1"),
    "fanout-q0": ("--scenario fan-out --publishers 1 --subscribers 1000 --qos 0 "
                  "--payload-bytes 16 --window 4", "fan-out 1->1000, QoS 0"),
    "shared-q1": ("--scenario shared --publishers 100 --subscribers 10 --topics 100 --qos 1 "
                  "--payload-bytes 16 --window 20", "shared 100->$share group of 10, QoS 1"),
    "conn-15k": ("--scenario conn --clients 15000 --connect-rate 0 --connect-concurrency 256 "
                 "--keep-alive-s 30 --idle-s 5 --source-addresses 16",
                 "15k connections as fast as 256 concurrent connects go, then idle"),
    # Durable: 16 publishers on distinct topics, each with up to 32 unacknowledged QoS 1
    # publishes; with one wildcard subscriber (window 32 undelivered per publisher, so the
    # subscriber's queue of 1000 never overflows) or publishers only (bounded by PUBACKs).
    "durable-q1": ("--scenario fan-in --publishers 16 --subscribers 1 --topics 16 --qos 1 "
                   "--payload-bytes 16 --window 32 --inflight 32",
                   "durable QoS 1 fan-in 16->1, 32 in flight per publisher (commit log)"),
    "durable-q1-pub": ("--scenario fan-in --publishers 16 --subscribers 0 --topics 16 --qos 1 "
                       "--payload-bytes 16 --inflight 32",
                       "durable QoS 1, 16 publishers x 32 in flight, no subscriber (commit log)"),
}
DEFAULT_SCENARIOS = ["p2p-q1", "fanin-q0", "fanin-q1", "fanout-q0", "shared-q1", "conn-15k",
                     "durable-q1", "durable-q1-pub"]
SMOKE_SIZES = {
    "p2p-q1": "--clients 20", "fanin-q0": "--publishers 10", "fanin-q1": "--publishers 10",
    "fanout-q0": "--subscribers 50", "shared-q1": "--publishers 10 --subscribers 3",
    "conn-15k": "--clients 300 --idle-s 1", "durable-q1": "--publishers 4 --topics 4",
    "durable-q1-pub": "--publishers 4 --topics 4",
}
# Brokers of a durable scenario, in the order of the table's columns.
DURABLE_KINDS = ["sluice", "sluice-nofsync", "mosquitto"]
DURABLE_TITLES = {"sluice": "Sluice fsync=batch", "sluice-nofsync": "Sluice fsync=none",
                  "mosquitto": "Mosquitto persistence true"}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def bazel_binaries():
    startup = shlex.split(os.environ.get("BAZEL_STARTUP_OPTS", ""))
    build = shlex.split(os.environ.get("BAZEL_BUILD_OPTS", ""))
    targets = ["//broker:sluiced", "//tools/bench:loadgen"]
    subprocess.run(["bazel", *startup, "build", *build, *targets], cwd=REPO, check=True)
    # (bazel 4 has no `cquery --output=files`; bazel-bin depends on the build options.)
    bin_dir = subprocess.run(["bazel", *startup, "info", *build, "bazel-bin"], cwd=REPO,
                             check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(bin_dir, "broker/sluiced"), os.path.join(bin_dir, "tools/bench/loadgen")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_io_bytes(pid, key="write_bytes"):
    """Bytes the process (all threads) caused to be written to storage, from /proc/PID/io."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def filesystem_of(path):
    """(mount point, source, type) of the file system holding path, from /proc/self/mounts."""
    path = os.path.realpath(path)
    best = ("/", "?", "?")
    with open("/proc/self/mounts") as f:
        for line in f:
            src, mnt, fstype = line.split()[:3]
            mnt = mnt.replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, src, fstype)
    return best


def fsync_probe(directory, n=40):
    """Latency of one 4 KiB write + fsync on the disk holding `directory`: (p50, max) in ms."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    times = []
    try:
        buf = os.urandom(4096)
        for i in range(n):
            t0 = time.perf_counter()
            os.pwrite(fd, buf, i * 4096)
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1e3)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times), max(times)


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def limits_preexec(cpu, nofile):
    def run():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if nofile is None else min(nofile, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want if nofile else hard))
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
    return run


class Broker:
    """One broker process, started fresh for each run."""

    def __init__(self, kind, args, workdir, cpu, nofile=None, durable=False):
        # kind: "sluice" (default --log-fsync, batch), "sluice-nofsync" (--log-fsync=none)
        # or "mosquitto" (persistence true when durable).
        self.kind, self.args, self.cpu, self.nofile = kind, args, cpu, nofile
        self.workdir = tempfile.mkdtemp(prefix=kind + "-", dir=workdir)
        self.durable = durable
        self.proc = None
        self.address = None

    def start(self):
        err = open(os.path.join(self.workdir, "stderr.log"), "wb")
        if self.kind.startswith("sluice"):
            r, w = os.pipe()
            cmd = [self.args.sluiced, "--listen", "127.0.0.1:0", "--data-dir",
                   os.path.join(self.workdir, "data"), "--threads", str(self.args.sluice_threads),
                   "--ready-fd", str(w), "--log-level", "warn", "--max-queued-messages", "1000",
                   "--max-inflight", "100",
                   # No admin/metrics listeners: Mosquitto runs none, and fixed ports collide.
                   "--admin-listen=", "--metrics-listen="]
            if self.kind == "sluice-nofsync":
                cmd.append("--log-fsync=none")
            elif self.durable:
                cmd.append("--log-fsync=batch")  # the default, stated for the record
            else:
                # Non-durable scenarios compare like with like: Mosquitto keeps QoS 1 in
                # memory, so does sluiced with durability=memory (README "Durability").
                cmd.append("--durability=memory")
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, pass_fds=(w,),
                                         preexec_fn=limits_preexec(self.cpu, self.nofile))
            os.close(w)
            with os.fdopen(r) as ready:
                line = ready.readline().strip()
            if not line:
                raise RuntimeError("sluiced did not become ready: see " + err.name)
            self.address = line
        else:
            port = free_port()
            conf = os.path.join(self.workdir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        f"max_queued_messages 1000\nmax_inflight_messages 100\n"
                        f"set_tcp_nodelay true\nlog_dest stderr\nlog_type error\n"
                        f"log_type warning\n")
                if self.durable:
                    # autosave_interval left at its default (1800 s) unless asked: Mosquitto
                    # then writes mosquitto.db only at shutdown within a run.
                    f.write(f"persistence true\npersistence_location {self.workdir}/\n")
                    if self.args.mosquitto_autosave > 0:
                        f.write(f"autosave_interval {self.args.mosquitto_autosave}\n")
                else:
                    f.write("persistence false\n")
            self.proc = subprocess.Popen([self.args.mosquitto, "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=limits_preexec(self.cpu, self.nofile))
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.time() > deadline or self.proc.poll() is not None:
                        raise RuntimeError("mosquitto did not start: see " + err.name)
                    time.sleep(0.05)
            self.address = f"127.0.0.1:{port}"
        time.sleep(0.2)
        return self.address

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_lines(self):
        try:
            with open(os.path.join(self.workdir, "stderr.log"), "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0


def run_loadgen(args, broker, extra, timeout_s):
    """Runs loadgen against a started broker; returns the result dict plus broker samples."""
    pid = broker.proc.pid
    cmd = [args.loadgen, "--broker", broker.address] + shlex.split(extra)
    samples = {"rss_base_kb": proc_status_kb(pid, "VmRSS")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limits_preexec(args.loadgen_cpu, None))
    stderr_lines = []
    t = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True)
    t.start()
    killer = threading.Timer(timeout_s, proc.kill)
    killer.start()
    result = None
    try:
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("phase "):
                phase = line[6:]
                samples[phase + "_cpu_s"] = proc_cpu_s(pid)
                samples[phase + "_rss_kb"] = proc_status_kb(pid, "VmRSS")
                samples[phase + "_write_bytes"] = proc_io_bytes(pid)
                samples[phase + "_t"] = time.time()
            elif line.startswith("result "):
                result = json.loads(line[7:])
        proc.wait()
    finally:
        killer.cancel()
    t.join(timeout=2)
    samples["peak_rss_kb"] = proc_status_kb(pid, "VmHWM")
    samples["broker_alive"] = broker.proc.poll() is None
    if result is None:
        result = {"completed": False, "error": "loadgen gave no result (rc %s): %s" % (
            proc.returncode, "".join(stderr_lines)[-400:])}
    result.update(samples)
    result["summary"] = "".join(stderr_lines).strip().splitlines()[-1:] or [""]
    return result


def derive(r):
    """Per-run figures: CPU per million deliveries, RSS per connection."""
    if "measure_cpu_s" in r and "stop_cpu_s" in r:
        r["cpu_s"] = r["stop_cpu_s"] - r["measure_cpu_s"]
        r["cpu_util"] = r["cpu_s"] / max(1e-9, r["stop_t"] - r["measure_t"])
        if r.get("window_delivered", 0) > 0:
            r["cpu_s_per_M"] = r["cpu_s"] / r["window_delivered"] * 1e6
    if "measure_cpu_s" in r and "stop_cpu_s" in r and r.get("window_acked", 0) > 0:
        r["cpu_s_per_100k_acked"] = (r["stop_cpu_s"] - r["measure_cpu_s"]) / r["window_acked"] * 1e5
        if r.get("stop_write_bytes") is not None and r.get("measure_write_bytes") is not None:
            r["write_bytes_per_acked"] = ((r["stop_write_bytes"] - r["measure_write_bytes"]) /
                                          r["window_acked"])
            r["write_mb_per_s"] = ((r["stop_write_bytes"] - r["measure_write_bytes"]) / 1e6 /
                                   max(1e-9, r["stop_t"] - r["measure_t"]))
    if "connected_rss_kb" in r and r.get("connect_ok", 0) > 0:
        r["rss_per_conn_kb"] = (r["connected_rss_kb"] - r["rss_base_kb"]) / r["connect_ok"]
    return r


def median(runs, key):
    vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def run_pair(args, name, extra, runs, workdir, rate=None):
    """Alternating runs of one scenario on both brokers; returns {broker: [results]}."""
    durable = name.startswith("durable")
    kinds = ([k for k in DURABLE_KINDS if args.fsync_none or k != "sluice-nofsync"] if durable
             else ["sluice", "mosquitto"])
    out = {k: [] for k in kinds}
    timeout_s = args.duration + 90
    for i in range(runs):
        order = kinds[i % len(kinds):] + kinds[:i % len(kinds)]  # who goes first rotates
        for kind in order:
            b = Broker(kind, args, workdir, args.broker_cpu, durable=durable)
            try:
                b.start()
                cmd = extra + f" --duration-s {args.duration} --warmup-ms {args.warmup_ms}"
                if rate:
                    cmd += f" --rate {int(rate)}"
                r = derive(run_loadgen(args, b, cmd, timeout_s))
            except Exception as e:  # a broker that fails to start is a result, not a crash
                r = {"completed": False, "error": str(e)}
            finally:
                b.stop()
            r["broker"] = kind
            log(f"  [{name}{' @' + str(int(rate)) + '/s' if rate else ''}] {kind:14s} run {i + 1}: "
                + (r.get("summary") or [r.get("error", "")])[0])
            out[kind].append(r)
    return out


def fmt(v, kind="num"):
    if v is None:
        return "n/a"
    if kind == "ns":
        if v >= 1e9:
            return f"{v / 1e9:.2f} s"
        if v >= 1e6:
            return f"{v / 1e6:.1f} ms"
        return f"{v / 1e3:.0f} us"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "kb":
        return f"{v / 1024:.1f} MB" if v >= 10240 else f"{v:.1f} KB"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def ratio(s, m):
    if s is None or m is None or m == 0:
        return "n/a"
    return f"{s / m:.2f}"


def table(results, scenarios):
    rows = ["| scenario | metric | Sluice | Mosquitto | Sluice/Mosquitto |",
            "|---|---|---:|---:|---:|"]
    verdicts = []
    for name in scenarios:
        res = results.get(name)
        if not res or name.startswith("durable"):
            continue
        s, m = res["max"]["sluice"], res["max"]["mosquitto"]
        label = name
        if name.startswith("conn"):
            metrics = [("connect rate /s", "connect_rate_per_s", "int"),
                       ("connect p99", "connect_p99_ns", "ns"),
                       ("RSS per idle connection", "rss_per_conn_kb", "kb"),
                       ("peak RSS", "peak_rss_kb", "kb"),
                       ("connects failed", "connect_failed", "int")]
        else:
            metrics = [("delivered msg/s", "delivered_per_s", "int"),
                       ("broker CPU-s per 1M msgs", "cpu_s_per_M", "num"),
                       ("broker CPU use (cores)", "cpu_util", "num"),
                       ("loadgen CPU-s", "loadgen_cpu_s", "num"),
                       ("e2e p50 (max rate)", "e2e_p50_ns", "ns"),
                       ("e2e p99 (max rate)", "e2e_p99_ns", "ns"),
                       ("e2e p999 (max rate)", "e2e_p999_ns", "ns"),
                       ("pub->ack p99 (max rate)", "ack_p99_ns", "ns"),
                       ("peak RSS", "peak_rss_kb", "kb"),
                       ("lost / dup / ooo (all runs)", None, None)]
        for title, key, kind in metrics:
            if key is None:
                def tot(rs):
                    return "/".join(str(int(sum(r.get(k, 0) for r in rs)))
                                    for k in ("lost", "duplicates", "out_of_order"))
                rows.append(f"| {label} | {title} | {tot(s)} | {tot(m)} | |")
                continue
            sv, mv = median(s, key), median(m, key)
            rows.append(f"| {label} | {title} | {fmt(sv, kind)} | {fmt(mv, kind)} | "
                        f"{ratio(sv, mv)} |")
            label = ""
        half = res.get("half")
        if half:
            sv, mv = median(half["sluice"], "e2e_p99_ns"), median(half["mosquitto"], "e2e_p99_ns")
            rows.append(f"| | e2e p99 at {fmt(res['half_rate'], 'int')}/s (half Mosquitto max) | "
                        f"{fmt(sv, 'ns')} | {fmt(mv, 'ns')} | {ratio(sv, mv)} |")
            if sv is not None and mv is not None:
                verdicts.append(f"{name}: p99 at half Mosquitto's max rate <= Mosquitto's: "
                                f"{'met' if sv <= mv else 'MISSED'} ({ratio(sv, mv)}x)")
        if name.startswith("conn"):
            sv, mv = median(s, "rss_per_conn_kb"), median(m, "rss_per_conn_kb")
            if sv is not None and mv is not None:
                verdicts.append(f"{name}: memory per idle connection <= Mosquitto's: "
                                f"{'met' if sv <= mv else 'MISSED'} ({ratio(sv, mv)}x)")
        elif median(s, "cpu_s_per_M") and median(m, "cpu_s_per_M"):
            gain = median(m, "cpu_s_per_M") / median(s, "cpu_s_per_M")
            verdicts.append(f"{name}: msgs per broker CPU-second >= 2x Mosquitto: "
                            f"{'met' if gain >= 2 else 'MISSED'} ({gain:.2f}x)")
    return "\n".join(rows), verdicts


def durable_table(name, res, disk):
    """One table per durable scenario: a column per broker, the ratio fsync=batch/Mosquitto."""
    kinds = [k for k in DURABLE_KINDS if k in res["max"]]
    runs = res["max"]
    with_subs = any(r.get("subscribers", 0) > 0 for rs in runs.values() for r in rs)
    rows = [f"| {name} | " + " | ".join(DURABLE_TITLES[k] for k in kinds) +
            " | batch/Mosquitto |", "|---|" + "---:|" * (len(kinds) + 1)]
    metrics = [("durable publishes/s (PUBACKs)", "acked_per_s", "int", median),
               ("pub->PUBACK p50", "ack_p50_ns", "ns", median),
               ("pub->PUBACK p99", "ack_p99_ns", "ns", median),
               ("pub->PUBACK max (worst run)", "ack_max_ns", "ns", None)]
    if with_subs:
        metrics += [("delivered msg/s (subscriber)", "delivered_per_s", "int", median),
                    ("e2e p99", "e2e_p99_ns", "ns", median)]
    metrics += [("broker CPU-s (measured window)", "cpu_s", "num", median),
                ("broker CPU use (cores)", "cpu_util", "num", median),
                ("broker CPU-s per 100k publishes", "cpu_s_per_100k_acked", "num", median),
                ("peak RSS", "peak_rss_kb", "kb", median),
                ("disk written per publish (bytes)", "write_bytes_per_acked", "int", median),
                ("disk written MB/s", "write_mb_per_s", "num", median)]

    def worst(rs, key):
        vals = [r[key] for r in rs if isinstance(r.get(key), (int, float))]
        return max(vals) if vals else None

    for title, key, kind, agg in metrics:
        vals = [(agg or worst)(runs[k], key) for k in kinds]
        b, m = vals[0], vals[-1]
        rows.append(f"| {title} | " + " | ".join(fmt(v, kind) for v in vals) +
                    f" | {ratio(b, m)} |")

    half = res.get("half")
    if half:
        at = f"at {fmt(res['half_rate'], 'int')}/s"
        fixed = [(f"publishes/s {at}", "acked_per_s", "int", median),
                 (f"pub->PUBACK p50 {at}", "ack_p50_ns", "ns", median),
                 (f"pub->PUBACK p99 {at}", "ack_p99_ns", "ns", median),
                 (f"pub->PUBACK max {at}", "ack_max_ns", "ns", None)]
        if with_subs:
            fixed.append((f"e2e p99 {at}", "e2e_p99_ns", "ns", median))
        fixed.append((f"broker CPU-s per 100k publishes {at}", "cpu_s_per_100k_acked", "num",
                      median))
        for title, key, kind, agg in fixed:
            vals = [(agg or worst)(half.get(k, []), key) for k in kinds]
            rows.append(f"| {title} | " + " | ".join(fmt(v, kind) for v in vals) +
                        f" | {ratio(vals[0], vals[-1])} |")

    def totals(rs):
        return "/".join(str(int(sum(r.get(k, 0) for r in rs)))
                        for k in ("lost", "duplicates", "out_of_order"))
    if with_subs:
        every = {k: runs[k] + (half or {}).get(k, []) for k in kinds}
        rows.append("| lost / dup / ooo (all runs) | " + " | ".join(totals(every[k]) for k in kinds)
                    + " | |")
    failed = [f"{k} {what} run {i + 1}: {r.get('error')}"
              for what, part in (("max-rate", runs), ("fixed-rate", half or {})) for k in kinds
              for i, r in enumerate(part.get(k, [])) if not r.get("completed")]
    autosave = ("autosave_interval default 1800 s" if disk["autosave"] <= 0 else
                f"autosave_interval {disk['autosave']} s")
    notes = [
        f"Data directories on {disk['mount']} ({disk['fstype']} on {disk['source']}); one 4 KiB "
        f"write + fsync there: p50 {disk['fsync_p50_ms']:.2f} ms, max {disk['fsync_max_ms']:.2f} ms "
        f"({disk['fsync_n']} in a row, before the runs).",
        "Sluice fsync=batch sends PUBACK only after the commit-log write holding the publish was "
        "fsynced (group commit); fsync=none writes the same log but never fsyncs (survives "
        "kill -9, not a power loss).",
        f"Mosquitto `persistence true` ({autosave}) keeps messages in memory and writes its "
        "whole database to mosquitto.db only every autosave_interval and at shutdown (fsyncing "
        "that file then): it does NOT write or fsync anything before PUBACK, so its column is "
        "in-memory QoS 1 and a crash loses everything since the last save.",
        "Each broker is pinned to one core with all its threads (Sluice: the shard, the log's "
        "Raft driver and RocksDB's threads share it). At maximum rate every publisher keeps up "
        "to 32 publishes unacknowledged, so a saturated broker's PUBACK latency is about "
        "(publishers x 32) / rate by Little's law; the fixed-rate rows show the write path.",
    ]
    if failed:
        notes.append("Runs that did not complete: " + "; ".join(failed))
    verdicts = []
    b, m = median(runs["sluice"], "acked_per_s"), median(runs["mosquitto"], "acked_per_s")
    if b and m:
        verdicts.append(f"{name}: durable QoS 1 publishes/s (fsync=batch) >= Mosquitto's "
                        f"(persistence true, i.e. in memory during the run): "
                        f"{'met' if b >= m else 'MISSED'} ({b / m:.2f}x)")
    return "\n".join(rows) + "\n\n" + "\n".join("Note: " + n for n in notes), verdicts


def fd_check(args, workdir):
    """Each broker limited to 256 descriptors, offered 400 connections: does it refuse, count
    and keep serving? Reports CPU burned while saturated and whether service resumes."""
    lines = []
    for kind in ("sluice", "mosquitto"):
        b = Broker(kind, args, workdir, args.broker_cpu, nofile=256)
        try:
            b.start()
            cpu0 = proc_cpu_s(b.proc.pid)
            t0 = time.time()
            storm = run_loadgen(args, b, "--scenario conn --clients 400 --connect-timeout-ms 3000 "
                                "--idle-s 4 --setup-timeout-s 30", 60)
            cpu_s, wall = proc_cpu_s(b.proc.pid) - cpu0, time.time() - t0
            after = run_loadgen(args, b, "--scenario p2p --clients 5 --qos 1 --duration-s 2 "
                                "--warmup-ms 0", 30)
            lines.append(
                f"{kind}: 400 connects at nofile=256: {storm.get('connect_ok', 0):.0f} ok, "
                f"{storm.get('connect_failed', 0):.0f} failed ({storm.get('error', '')}); broker CPU "
                f"{cpu_s:.1f} s over {wall:.1f} s ({100 * cpu_s / wall:.0f}%), "
                f"{b.log_lines()} log lines; afterwards p2p "
                f"{'OK' if after.get('completed') and after.get('lost', 1) == 0 else 'FAILED'} "
                f"({after.get('delivered_per_s', 0):.0f} msg/s), broker "
                f"{'alive' if b.proc.poll() is None else 'DEAD'}")
        finally:
            b.stop()
        log(lines[-1])
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    p.add_argument("--runs", type=int, default=3, help="alternating runs per broker")
    p.add_argument("--half-rate-runs", type=int, default=1,
                   help="runs at half Mosquitto's max rate (latency target); 0 = skip")
    p.add_argument("--duration", type=int, default=5,
                   help="seconds per run, warmup included (5 keeps the default run under 10 minutes)")
    p.add_argument("--warmup-ms", type=int, default=1000)
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, 2 s, 1 run, no half-rate runs; fails on loss or bad output")
    p.add_argument("--fd-check", action="store_true", help="only the out-of-descriptors check")
    p.add_argument("--sluiced")
    p.add_argument("--loadgen")
    p.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    p.add_argument("--sluice-threads", type=int, default=1,
                   help="sluiced --threads (1: one core each, like single-threaded Mosquitto)")
    p.add_argument("--no-fsync-none", dest="fsync_none", action="store_false",
                   help="durable scenarios: skip the sluiced --log-fsync=none column")
    p.add_argument("--mosquitto-autosave", type=int, default=0,
                   help="durable scenarios: Mosquitto autosave_interval in s (0 = its default, "
                        "1800 s, i.e. saved only at shutdown)")
    p.add_argument("--workdir", default=None,
                   help="where broker data directories go (default $TMPDIR or /tmp); durable "
                        "figures need a real disk, not tmpfs")
    p.add_argument("--json", help="write all raw results here")
    args = p.parse_args()

    if not args.sluiced or not args.loadgen:
        args.sluiced, args.loadgen = bazel_binaries()
    cpus = sorted(os.sched_getaffinity(0))
    args.broker_cpu, args.loadgen_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if args.smoke:
        args.runs, args.half_rate_runs, args.duration, args.warmup_ms = 1, 0, 2, 300
    workdir = tempfile.mkdtemp(prefix="sluice-bench-", dir=args.workdir)
    started = time.time()
    load_start = os.getloadavg()
    log(f"cores {cpus}: broker on {args.broker_cpu}, loadgen on {args.loadgen_cpu}; "
        f"mosquitto {args.mosquitto}; sluiced {args.sluiced}; workdir {workdir}; "
        f"load average {load_start[0]:.2f}")
    try:
        if args.fd_check:
            fd_check(args, workdir)
            return 0
        scenarios = [s for s in args.scenarios.split(",") if s]
        results = {}
        disk = None
        if any(s.startswith("durable") for s in scenarios):
            mount, source, fstype = filesystem_of(workdir)
            p50, worst = fsync_probe(workdir)
            disk = {"mount": mount, "source": source, "fstype": fstype, "fsync_p50_ms": p50,
                    "fsync_max_ms": worst, "fsync_n": 40, "autosave": args.mosquitto_autosave}
            log(f"data on {mount} ({fstype} on {source}); 4 KiB write+fsync p50 {p50:.2f} ms, "
                f"max {worst:.2f} ms")
            if fstype in ("tmpfs", "ramfs"):
                log("WARNING: the work directory is in memory; fsync costs nothing there "
                    "(use --workdir on a real disk)")
        for name in scenarios:
            if name not in SCENARIOS:
                log(f"unknown scenario {name}; known: {', '.join(SCENARIOS)}")
                return 2
            extra, desc = SCENARIOS[name]
            if args.smoke:
                extra += " " + SMOKE_SIZES[name]
            log(f"== {name}: {desc}")
            res = {"max": run_pair(args, name, extra, args.runs, workdir)}
            mosq_rate = median(res["max"]["mosquitto"], "published_per_s")
            if (args.half_rate_runs > 0 and not name.startswith(("conn", "durable"))
                    and mosq_rate):
                res["half_rate"] = mosq_rate / 2
                res["half"] = run_pair(args, name, extra, args.half_rate_runs, workdir,
                                       rate=mosq_rate / 2)
            elif args.half_rate_runs > 0 and name.startswith("durable"):
                # At maximum rate the PUBACK latency is mostly the closed-loop window queueing
                # (Little's law); at half the slowest broker's rate it shows the write path.
                rates = [median(rs, "acked_per_s") for rs in res["max"].values()]
                if all(rates):
                    res["half_rate"] = min(rates) / 2
                    res["half"] = run_pair(args, name, extra, args.half_rate_runs, workdir,
                                           rate=res["half_rate"])
            results[name] = res
        text, verdicts = table(results, scenarios)
        load_end = os.getloadavg()
        print(f"\nSluice vs Mosquitto, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
              f"medians of {args.runs} run(s) of {args.duration} s "
              f"(sluiced --threads {args.sluice_threads}); took {time.time() - started:.0f} s; "
              f"load average {load_start[0]:.2f} before, {load_end[0]:.2f} after\n")
        if any(not s.startswith("durable") for s in scenarios):
            print(text)
        for name in scenarios:
            if name.startswith("durable") and name in results:
                dtext, dverdicts = durable_table(name, results[name], disk)
                print(f"\n{name}: {SCENARIOS[name][1]}\n")
                print(dtext)
                verdicts += dverdicts
        print("\nTargets:")
        for v in verdicts:
            print("- " + v)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.smoke:
            bad, notes = [], []
            for name, res in results.items():
                for kind, runs in res["max"].items():
                    for r in runs:
                        # Publishers-only runs deliver nothing: they must get PUBACKs instead.
                        rate_key = ("acked_per_s" if r.get("subscribers", 1) == 0
                                    else "delivered_per_s")
                        if not r.get("completed"):
                            bad.append(f"{name}/{kind}: {r.get('error')}")
                        elif not name.startswith("conn") and (
                                r.get("lost", 1) or r.get("duplicates", 1) or
                                r.get(rate_key, 0) <= 0):
                            # Only Sluice must be clean; Mosquitto's losses are data.
                            (bad if kind.startswith("sluice") else notes).append(
                                f"{name}/{kind}: lost {r.get('lost')} dup {r.get('duplicates')} "
                                f"{rate_key} {r.get(rate_key)}")
            for n in notes:
                print("note: " + n)
            if bad:
                print("\nSMOKE FAILED:\n  " + "\n  ".join(bad))
                return 1
            print("\nsmoke OK")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
