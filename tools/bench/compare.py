#!/usr/bin/env python3
"""Side-by-side benchmark of Sluice and Mosquitto with tools/bench/loadgen, with a floor.

For every scenario, runs the same loadgen command against a fresh sluiced and a fresh
mosquitto (generated config on a free loopback port), alternating which goes first, several
times; samples each broker's CPU seconds (/proc/PID/stat utime+stime) over the measured window
and its peak RSS (VmHWM); prints a table of medians with the ratio Sluice/Mosquitto, and the
issue's targets met or missed. Brokers get core 0 and loadgen core 1 when there are two.
For fan-in QoS 0/1, unbatched and devices it also runs tools/bench/relay (a bare relay: no
topics, sessions or storage; relay.h), pinned the same way, as the floor: its delivered
messages per CPU-second, and each broker's as a fraction of it ("x of floor").

  python3 tools/bench/compare.py                   # default scenarios (~8 minutes)
  python3 tools/bench/compare.py --smoke           # a few seconds per scenario, checks sanity
  python3 tools/bench/compare.py --scenarios p2p-q1,conn-15k --runs 1
  python3 tools/bench/compare.py --scenarios devices,unbatched,slow-subscriber --runs 1
  python3 tools/bench/compare.py --rate-fractions 0.1,0.5,0.9   # the latency table
  python3 tools/bench/compare.py --fd-check        # broker behaviour when out of descriptors
  python3 tools/bench/compare.py --scenarios durable-q1 --runs 1 --fixed-rate-runs 0  # ~30 s

Durable scenarios (durable-*) run three brokers: sluiced --log-fsync=batch (PUBACK after the
fsync of the group commit holding the publish), sluiced --log-fsync=none, and Mosquitto with
`persistence true`, which keeps messages in memory and writes its database file only every
autosave_interval (default 1800 s) and at shutdown: it never writes or fsyncs before PUBACK.
slow-subscriber runs sluiced with durability=log (the default) and =memory, and Mosquitto.
Data directories are under --workdir (default $TMPDIR or /tmp), which must be a real disk for
the fsync figures to mean anything; the table states its file system and one measured fsync.

Binaries come from `bazel build` (startup options from $BAZEL_STARTUP_OPTS, build options
from $BAZEL_BUILD_OPTS) unless --sluiced/--loadgen/--relay are given. Python 3 standard
library only; the tables are in compare_report.py.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (or in Bazel's runfiles)
from compare_procs import (Broker, filesystem_of, fsync_probe, limits_preexec, proc_cpu_s,
                           proc_io_bytes, proc_status_kb)
from compare_report import (DURABLE_KINDS, SLOW_KINDS, derive, durable_table, median,
                            slow_table, table)

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
    # Opt-in (not in the default run): see tools/bench/README.md.
    # libmosquitto-like devices: one packet per send(), one message in flight each.
    "unbatched": ("--scenario fan-in --publishers 10 --subscribers 1 --topics 10 --qos 1 "
                  "--payload-bytes 64 --window 1 --inflight 1 --unbatched",
                  "unbatched fan-in 10->1, QoS 1, 64 B, window 1, one packet per send()"),
    "devices": ("--scenario devices --clients 10000 --rate-per-client 1 --subscribers 10 "
                "--qos 1 --payload-bytes 64 --connect-concurrency 256 --source-addresses 16 "
                "--keep-alive-s 60",
                "10k devices x 1 msg/s QoS 1 (own topic each), 10 wildcard subscribers"),
    # Publishers at a fixed 20k/s in total (same input for every broker) against one
    # subscriber reading 256 kB/s (~3k msg/s) with a fixed 64 KiB receive buffer: the backlog
    # piles up in the broker; the drain reads at full speed.
    "slow-subscriber": ("--scenario slow-subscriber --publishers 10 --topics 10 --qos 1 "
                        "--payload-bytes 64 --inflight 32 --rate 20000 "
                        "--subscriber-read-bytes-per-s 256000 --subscriber-rcvbuf-bytes 65536 "
                        "--drain-ms 5000",
                        "10 QoS 1 publishers at 20k/s total -> 1 subscriber reading 256 kB/s"),
}
DEFAULT_SCENARIOS = ["p2p-q1", "fanin-q0", "fanin-q1", "fanout-q0", "shared-q1", "conn-15k",
                     "durable-q1", "durable-q1-pub"]
# Where the bare relay is a meaningful floor (every subscriber takes everything).
FLOOR_SCENARIOS = {"fanin-q0", "fanin-q1", "unbatched", "devices"}
# Scenarios already at a fixed rate, or without messages: no fixed-rate fraction runs.
NO_FIXED_RATE = ("conn", "devices", "slow-subscriber")
SMOKE_SIZES = {
    "p2p-q1": "--clients 20", "fanin-q0": "--publishers 10", "fanin-q1": "--publishers 10",
    "fanout-q0": "--subscribers 50", "shared-q1": "--publishers 10 --subscribers 3",
    "conn-15k": "--clients 300 --idle-s 1", "durable-q1": "--publishers 4 --topics 4",
    "durable-q1-pub": "--publishers 4 --topics 4", "unbatched": "--publishers 3 --topics 3",
    "devices": "--clients 300 --subscribers 2",
    "slow-subscriber": "--publishers 2 --topics 2 --rate 2000 --drain-ms 1000",
}
# --smoke: which kinds run where the default would differ (the relay checked in fan-in QoS 1,
# and one unbatched run against the relay alone: a few seconds).
SMOKE_KINDS = {"fanin-q0": ["sluice", "mosquitto"], "unbatched": ["relay"]}
SMOKE_EXTRA = ["unbatched"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def bazel_binaries():
    startup = shlex.split(os.environ.get("BAZEL_STARTUP_OPTS", ""))
    build = shlex.split(os.environ.get("BAZEL_BUILD_OPTS", ""))
    targets = ["//broker:sluiced", "//tools/bench:loadgen", "//tools/bench:relay"]
    subprocess.run(["bazel", *startup, "build", *build, *targets], cwd=REPO, check=True)
    # (bazel 4 has no `cquery --output=files`; bazel-bin depends on the build options.)
    bin_dir = subprocess.run(["bazel", *startup, "info", *build, "bazel-bin"], cwd=REPO,
                             check=True, capture_output=True, text=True).stdout.strip()
    return (os.path.join(bin_dir, "broker/sluiced"), os.path.join(bin_dir, "tools/bench/loadgen"),
            os.path.join(bin_dir, "tools/bench/relay"))


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
    samples["broker_alive"] = broker.proc.poll() is None
    if samples["broker_alive"]:
        samples["peak_rss_kb"] = proc_status_kb(pid, "VmHWM")
        samples["end_cpu_s"] = proc_cpu_s(pid)
    if result is None:
        result = {"completed": False, "error": "loadgen gave no result (rc %s): %s" % (
            proc.returncode, "".join(stderr_lines)[-400:])}
    result.update(samples)
    result["summary"] = "".join(stderr_lines).strip().splitlines()[-1:] or [""]
    return result


def kinds_for(args, name):
    """The brokers (columns) a scenario runs against, in column order."""
    if args.smoke and name in SMOKE_KINDS:
        return SMOKE_KINDS[name]
    if name.startswith("durable"):
        return [k for k in DURABLE_KINDS if args.fsync_none or k != "sluice-nofsync"]
    if name == "slow-subscriber":
        return list(SLOW_KINDS)
    kinds = ["sluice", "mosquitto"]
    if name in FLOOR_SCENARIOS and args.floor:
        kinds.append("relay")
    return kinds


def run_pair(args, name, extra, runs, workdir, kinds, rate=None):
    """Alternating runs of one scenario on each broker kind; returns {kind: [results]}."""
    durable = name.startswith("durable")
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


def fixed_rate_runs(args, name, extra, res, workdir):
    """Runs at fixed fractions of a maximum: Mosquitto's, or for durable scenarios the slowest
    broker's (at maximum rate their PUBACK latency is window queueing, Little's law)."""
    if args.fixed_rate_runs <= 0 or name.startswith(NO_FIXED_RATE) or not args.rate_fractions:
        return []
    if name.startswith("durable"):
        rates = [median(rs, "acked_per_s") for rs in res["max"].values()]
        top = min(rates) if all(rates) else None
    else:
        top = median(res["max"].get("mosquitto", []), "published_per_s")
    if not top:
        return []
    kinds = [k for k in kinds_for(args, name) if k != "relay"]
    fixed = []
    for frac in args.rate_fractions:
        runs = run_pair(args, name, extra, args.fixed_rate_runs, workdir, kinds, rate=top * frac)
        fixed.append({"fraction": frac, "rate": top * frac, "runs": runs})
    return fixed


def parse_fractions(text):
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        vals = None
    if vals is None or any(not 0 < v <= 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected fractions in (0, 1] like 0.1,0.5,0.9, "
                                         f"got '{text}'")
    return vals



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



def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                   help="comma-separated, or 'all' (default: the default set; opt-in: "
                        "unbatched, devices, slow-subscriber)")
    p.add_argument("--runs", type=int, default=3, help="alternating runs per broker")
    p.add_argument("--rate-fractions", type=parse_fractions, default=[0.5],
                   help="fixed-rate runs at these fractions of Mosquitto's median maximum "
                        "publish rate (durable: of the slowest broker's), e.g. 0.1,0.5,0.9 for "
                        "the latency table (default 0.5)")
    p.add_argument("--fixed-rate-runs", "--half-rate-runs", dest="fixed_rate_runs", type=int,
                   default=1, help="runs per broker at each fixed rate; 0 = skip")
    p.add_argument("--duration", type=int, default=5,
                   help="seconds per run, warmup included (5 keeps the default run under 10 minutes)")
    p.add_argument("--warmup-ms", type=int, default=1000)
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, 2 s, 1 run, no fixed-rate runs; fails on loss or bad output")
    p.add_argument("--fd-check", action="store_true", help="only the out-of-descriptors check")
    p.add_argument("--sluiced")
    p.add_argument("--loadgen")
    p.add_argument("--relay", help="tools/bench/relay (the floor)")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="do not run the relay (floor) in fan-in, unbatched and devices")
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
    args = p.parse_args()  # exits 2 with a message on a bad flag
    names = list(SCENARIOS) if args.scenarios == "all" else [
        s for s in args.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown or not names:
        p.error(f"unknown scenario(s) {', '.join(unknown) or '(none given)'}; known: "
                f"{', '.join(SCENARIOS)}, or all")
    if args.runs < 1 or args.duration < 1 or args.fixed_rate_runs < 0:
        p.error("--runs and --duration must be >= 1, --fixed-rate-runs >= 0")
    args.scenario_list = names
    if args.smoke:
        args.runs, args.fixed_rate_runs, args.duration, args.warmup_ms = 1, 0, 2, 300
        args.scenario_list = names + [s for s in SMOKE_EXTRA if s not in names]
    return args


def disk_info(args, workdir):
    mount, source, fstype = filesystem_of(workdir)
    p50, worst = fsync_probe(workdir)
    log(f"data on {mount} ({fstype} on {source}); 4 KiB write+fsync p50 {p50:.2f} ms, "
        f"max {worst:.2f} ms")
    if fstype in ("tmpfs", "ramfs"):
        log("WARNING: the work directory is in memory; fsync costs nothing there "
            "(use --workdir on a real disk)")
    return {"mount": mount, "source": source, "fstype": fstype, "fsync_p50_ms": p50,
            "fsync_max_ms": worst, "fsync_n": 40, "autosave": args.mosquitto_autosave}


def print_report(args, results, disk, started, load_start):
    scenarios = args.scenario_list
    text, verdicts = table(results, scenarios)
    load_end = os.getloadavg()
    print(f"\nSluice vs Mosquitto, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"medians of {args.runs} run(s) of {args.duration} s "
          f"(sluiced --threads {args.sluice_threads}); took {time.time() - started:.0f} s; "
          f"load average {load_start[0]:.2f} before, {load_end[0]:.2f} after\n")
    if any(not s.startswith("durable") and s != "slow-subscriber" for s in scenarios):
        print(text)
    for name in scenarios:
        if name not in results:
            continue
        if name.startswith("durable"):
            dtext, dverdicts = durable_table(name, results[name], disk)
            print(f"\n{name}: {SCENARIOS[name][1]}\n")
            print(dtext)
            verdicts += dverdicts
        elif name == "slow-subscriber":
            print(f"\n{name}: {SCENARIOS[name][1]}\n")
            print(slow_table(name, results[name]))
    print("\nTargets:")
    for v in verdicts:
        print("- " + v)


def smoke_problems(results):
    """--smoke: runs that did not complete; loss or duplicates from Sluice or the relay (ours
    must be clean; Mosquitto's are data); unbatched runs that batched."""
    bad, notes = [], []
    for name, res in results.items():
        for kind, runs in res["max"].items():
            ours = kind.startswith("sluice") or kind == "relay"
            for r in runs:
                # Publishers-only runs deliver nothing: they must get PUBACKs instead.
                rate_key = "acked_per_s" if r.get("subscribers", 1) == 0 else "delivered_per_s"
                if not r.get("completed"):
                    bad.append(f"{name}/{kind}: {r.get('error')}")
                    continue
                if name == "slow-subscriber":
                    continue  # loss is expected there (queue limits)
                if not name.startswith("conn") and (
                        r.get("lost", 1) or r.get("duplicates", 1) or r.get(rate_key, 0) <= 0):
                    (bad if ours else notes).append(
                        f"{name}/{kind}: lost {r.get('lost')} dup {r.get('duplicates')} "
                        f"{rate_key} {r.get(rate_key)}")
                if r.get("unbatched") and r.get("publisher_send_calls", 0) < r.get("published", 0):
                    bad.append(f"{name}/{kind}: --unbatched but {r.get('publisher_send_calls')} "
                               f"send() calls for {r.get('published')} publishes")
    return bad, notes


def main():
    args = parse_args()
    if not args.sluiced or not args.loadgen or not args.relay:
        built = bazel_binaries()
        args.sluiced = args.sluiced or built[0]
        args.loadgen = args.loadgen or built[1]
        args.relay = args.relay or built[2]
    cpus = sorted(os.sched_getaffinity(0))
    args.broker_cpu, args.loadgen_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    workdir = tempfile.mkdtemp(prefix="sluice-bench-", dir=args.workdir)
    started = time.time()
    load_start = os.getloadavg()
    log(f"cores {cpus}: broker on {args.broker_cpu}, loadgen on {args.loadgen_cpu}; "
        f"mosquitto {args.mosquitto}; sluiced {args.sluiced}; relay {args.relay}; "
        f"workdir {workdir}; load average {load_start[0]:.2f}")
    try:
        if args.fd_check:
            fd_check(args, workdir)
            return 0
        results = {}
        disk = (disk_info(args, workdir) if any(s.startswith("durable") for s in args.scenario_list)
                else None)
        for name in args.scenario_list:
            extra, desc = SCENARIOS[name]
            if args.smoke:
                extra += " " + SMOKE_SIZES[name]
            log(f"== {name}: {desc}")
            res = {"max": run_pair(args, name, extra, args.runs, workdir, kinds_for(args, name))}
            res["fixed"] = fixed_rate_runs(args, name, extra, res, workdir)
            results[name] = res
        print_report(args, results, disk, started, load_start)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.smoke:
            bad, notes = smoke_problems(results)
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
