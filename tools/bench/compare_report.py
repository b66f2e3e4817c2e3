"""Tables of compare.py: per-run figures derived from loadgen's result and the broker samples,
and the Markdown tables with medians, ratios, the relay floor and the issue's targets.

Pure functions over the result dicts (no processes, no I/O). Python 3 standard library only.
"""

import statistics

# Brokers of a durable scenario, in the order of the table's columns.
DURABLE_KINDS = ["sluice", "sluice-nofsync", "mosquitto"]
DURABLE_TITLES = {"sluice": "Sluice fsync=batch", "sluice-nofsync": "Sluice fsync=none",
                  "mosquitto": "Mosquitto persistence true"}
# slow-subscriber: Sluice with the commit log (the default) and in memory, and Mosquitto.
SLOW_KINDS = ["sluice-log", "sluice-memory", "mosquitto"]
SLOW_TITLES = {"sluice-log": "Sluice durability=log", "sluice-memory": "Sluice durability=memory",
               "mosquitto": "Mosquitto"}


def derive(r):
    """Per-run figures: CPU per message, messages per CPU-second, RSS per connection, disk."""
    if "measure_cpu_s" in r and "stop_cpu_s" in r:
        r["cpu_s"] = r["stop_cpu_s"] - r["measure_cpu_s"]
        r["cpu_util"] = r["cpu_s"] / max(1e-9, r["stop_t"] - r["measure_t"])
        if r.get("window_delivered", 0) > 0:
            # CPU-us per delivered message (numerically CPU-s per million messages).
            r["cpu_us_per_msg"] = r["cpu_s"] / r["window_delivered"] * 1e6
            r["msgs_per_cpu_s"] = r["window_delivered"] / max(1e-9, r["cpu_s"])
    if "measure_cpu_s" in r and "stop_cpu_s" in r and r.get("window_acked", 0) > 0:
        r["cpu_us_per_publish"] = r["cpu_s"] / r["window_acked"] * 1e6
        r["cpu_s_per_100k_acked"] = r["cpu_s"] / r["window_acked"] * 1e5
        if r.get("stop_write_bytes") is not None and r.get("measure_write_bytes") is not None:
            r["write_bytes_per_acked"] = ((r["stop_write_bytes"] - r["measure_write_bytes"]) /
                                          r["window_acked"])
            r["write_mb_per_s"] = ((r["stop_write_bytes"] - r["measure_write_bytes"]) / 1e6 /
                                   max(1e-9, r["stop_t"] - r["measure_t"]))
    if "connected_cpu_s" in r and "end_cpu_s" in r:
        # Whole run including the drain (slow-subscriber delivers part of its share there).
        r["cpu_s_total"] = r["end_cpu_s"] - r["connected_cpu_s"]
        if r.get("unique_delivered", 0) > 0:
            r["cpu_us_per_msg_total"] = r["cpu_s_total"] / r["unique_delivered"] * 1e6
    if "connected_rss_kb" in r and r.get("connect_ok", 0) > 0:
        r["rss_per_conn_kb"] = (r["connected_rss_kb"] - r["rss_base_kb"]) / r["connect_ok"]
    return r


def median(runs, key):
    vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def worst(runs, key):
    vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return max(vals) if vals else None


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
    if kind == "x":
        return f"{v:.2f}x"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def ratio(s, m):
    if s is None or m is None or m == 0:
        return "n/a"
    return f"{s / m:.2f}"


def totals(runs):
    return "/".join(str(int(sum(r.get(k, 0) for r in runs)))
                    for k in ("lost", "duplicates", "out_of_order"))


def message_metrics(name, runs):
    """(title, key, kind) rows of a message scenario; devices adds its pacing figures."""
    with_acks = any(r.get("qos", 0) > 0 for r in runs)
    rows = [("delivered msg/s", "delivered_per_s", "int")]
    if name == "devices":
        rows.append(("published msg/s (paced)", "published_per_s", "int"))
    rows += [("broker CPU-us per delivered msg", "cpu_us_per_msg", "num"),
             ("delivered msgs per broker CPU-s", "msgs_per_cpu_s", "int"),
             ("broker CPU use (cores)", "cpu_util", "num"),
             ("loadgen CPU-s", "loadgen_cpu_s", "num"),
             ("e2e p50 (max rate)" if name != "devices" else "e2e p50", "e2e_p50_ns", "ns"),
             ("e2e p99 (max rate)" if name != "devices" else "e2e p99", "e2e_p99_ns", "ns"),
             ("e2e p999 (max rate)" if name != "devices" else "e2e p999", "e2e_p999_ns", "ns")]
    if with_acks:
        rows += [("pub->ack p50", "ack_p50_ns", "ns"), ("pub->ack p99", "ack_p99_ns", "ns")]
    rows.append(("peak RSS", "peak_rss_kb", "kb"))
    if name == "devices":
        rows += [("connects failed", "connect_failed", "int"),
                 ("pace slots skipped", "pace_skipped", "int")]
    return rows


CONN_METRICS = [("connect rate /s", "connect_rate_per_s", "int"),
                ("connect p99", "connect_p99_ns", "ns"),
                ("RSS per idle connection", "rss_per_conn_kb", "kb"),
                ("peak RSS", "peak_rss_kb", "kb"),
                ("connects failed", "connect_failed", "int")]


def fixed_rate_rows(res):
    """Rows of the runs at fixed fractions of Mosquitto's maximum rate; verdicts at 0.5."""
    rows, verdicts = [], []
    for fixed in res.get("fixed", []):
        frac, rate, runs = fixed["fraction"], fixed["rate"], fixed["runs"]
        s, m = runs.get("sluice", []), runs.get("mosquitto", [])
        at = f"at {fmt(rate, 'int')}/s ({frac:g} of Mosquitto max)"
        metrics = [("e2e p50", "e2e_p50_ns", "ns"), ("e2e p99", "e2e_p99_ns", "ns")]
        if any(r.get("qos", 0) > 0 for r in s + m):
            metrics.append(("pub->ack p99", "ack_p99_ns", "ns"))
        metrics += [("CPU-us per msg", "cpu_us_per_msg", "num"), ("peak RSS", "peak_rss_kb", "kb")]
        for title, key, kind in metrics:
            sv, mv = median(s, key), median(m, key)
            rows.append(f"| | {title} {at} | {fmt(sv, kind)} | {fmt(mv, kind)} | "
                        f"{ratio(sv, mv)} | |")
        if abs(frac - 0.5) < 1e-9:
            sv, mv = median(s, "e2e_p99_ns"), median(m, "e2e_p99_ns")
            if sv is not None and mv is not None:
                verdicts.append((sv, mv))
    return rows, verdicts


def table(results, scenarios):
    """The Sluice / Mosquitto / floor table of every scenario but durable-* and slow-*."""
    rows = ["| scenario | metric | Sluice | Mosquitto | Sluice/Mosquitto | floor (relay) |",
            "|---|---|---:|---:|---:|---:|"]
    verdicts = []
    for name in scenarios:
        res = results.get(name)
        if (not res or name.startswith("durable") or name == "slow-subscriber" or
                "sluice" not in res["max"]):
            continue
        s, m, f = res["max"]["sluice"], res["max"]["mosquitto"], res["max"].get("relay")
        label = name
        metrics = CONN_METRICS if name.startswith("conn") else message_metrics(name, s + m)
        for title, key, kind in metrics:
            sv, mv = median(s, key), median(m, key)
            fv = fmt(median(f, key), kind) if f else ""
            rows.append(f"| {label} | {title} | {fmt(sv, kind)} | {fmt(mv, kind)} | "
                        f"{ratio(sv, mv)} | {fv} |")
            label = ""
            if key == "msgs_per_cpu_s" and f:
                floor = median(f, key)
                x = [None if v is None or not floor else v / floor for v in (sv, mv)]
                rows.append(f"| | x of floor (msgs per CPU-s / relay's) | {fmt(x[0], 'x')} | "
                            f"{fmt(x[1], 'x')} | | 1.00x |")
        if not name.startswith("conn"):
            rows.append(f"| | lost / dup / ooo (all runs) | {totals(s)} | {totals(m)} | | "
                        f"{totals(f) if f else ''} |")
        fixed, half = fixed_rate_rows(res)
        rows += fixed
        for sv, mv in half:
            verdicts.append(f"{name}: p99 at half Mosquitto's max rate <= Mosquitto's: "
                            f"{'met' if sv <= mv else 'MISSED'} ({ratio(sv, mv)}x)")
        if name.startswith("conn"):
            sv, mv = median(s, "rss_per_conn_kb"), median(m, "rss_per_conn_kb")
            if sv is not None and mv is not None:
                verdicts.append(f"{name}: memory per idle connection <= Mosquitto's: "
                                f"{'met' if sv <= mv else 'MISSED'} ({ratio(sv, mv)}x)")
        elif median(s, "cpu_us_per_msg") and median(m, "cpu_us_per_msg"):
            gain = median(m, "cpu_us_per_msg") / median(s, "cpu_us_per_msg")
            verdicts.append(f"{name}: msgs per broker CPU-second >= 2x Mosquitto: "
                            f"{'met' if gain >= 2 else 'MISSED'} ({gain:.2f}x)")
    return "\n".join(rows), verdicts


def slow_table(name, res):
    """slow-subscriber: what each broker delivered and dropped, and its memory."""
    kinds = [k for k in SLOW_KINDS if k in res["max"]]
    runs = res["max"]
    rows = [f"| {name} | " + " | ".join(SLOW_TITLES[k] for k in kinds) + " |",
            "|---|" + "---:|" * len(kinds)]
    metrics = [("published (acknowledged)", "acked", "int", sum),
               ("delivered (unique, run + drain)", "unique_delivered", "int", sum),
               ("  of which in the drain", "drain_delivered", "int", sum),
               ("lost (acknowledged, never delivered)", "lost", "int", sum),
               ("duplicates / out of order", None, None, None),
               ("publish->PUBACK p99", "ack_p99_ns", "ns", median),
               ("e2e p99 of what was delivered", "e2e_p99_ns", "ns", median),
               ("broker CPU-s (connected to end of drain)", "cpu_s_total", "num", median),
               ("broker CPU-us per delivered msg (run + drain)", "cpu_us_per_msg_total", "num",
                median),
               ("RSS when publishing stopped", "stop_rss_kb", "kb", median),
               ("peak RSS", "peak_rss_kb", "kb", median)]
    for title, key, kind, agg in metrics:
        if key is None:
            vals = ["/".join(str(int(sum(r.get(k, 0) for r in runs[kd])))
                             for k in ("duplicates", "out_of_order")) for kd in kinds]
        elif agg is sum:
            vals = [fmt(sum(r.get(key, 0) for r in runs[k]), kind) for k in kinds]
        else:
            vals = [fmt(agg(runs[k], key), kind) for k in kinds]
        rows.append(f"| {title} | " + " | ".join(vals) + " |")
    failed = [f"{k} run {i + 1}: {r.get('error')}" for k in kinds
              for i, r in enumerate(runs[k]) if not r.get("completed")]
    note = ("Counts are totals over all runs; latency, CPU and RSS medians. The subscriber reads "
            "at the throttled rate while publishing runs and at full speed in the drain, so "
            "`lost` is what the broker discarded (its queue limit), not what was in transit.")
    if failed:
        note += " Runs that did not complete: " + "; ".join(failed)
    return "\n".join(rows) + "\n\nNote: " + note


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
               ("pub->PUBACK max (worst run)", "ack_max_ns", "ns", worst)]
    if with_subs:
        metrics += [("delivered msg/s (subscriber)", "delivered_per_s", "int", median),
                    ("e2e p99", "e2e_p99_ns", "ns", median),
                    ("broker CPU-us per delivered msg", "cpu_us_per_msg", "num", median)]
    metrics += [("broker CPU-s (measured window)", "cpu_s", "num", median),
                ("broker CPU use (cores)", "cpu_util", "num", median),
                ("broker CPU-us per publish", "cpu_us_per_publish", "num", median),
                ("peak RSS", "peak_rss_kb", "kb", median),
                ("disk written per publish (bytes)", "write_bytes_per_acked", "int", median),
                ("disk written MB/s", "write_mb_per_s", "num", median)]
    for title, key, kind, agg in metrics:
        vals = [agg(runs[k], key) for k in kinds]
        rows.append(f"| {title} | " + " | ".join(fmt(v, kind) for v in vals) +
                    f" | {ratio(vals[0], vals[-1])} |")

    for fixed in res.get("fixed", []):
        part = fixed["runs"]
        at = f"at {fmt(fixed['rate'], 'int')}/s"
        rows_fixed = [(f"publishes/s {at}", "acked_per_s", "int", median),
                      (f"pub->PUBACK p50 {at}", "ack_p50_ns", "ns", median),
                      (f"pub->PUBACK p99 {at}", "ack_p99_ns", "ns", median),
                      (f"pub->PUBACK max {at}", "ack_max_ns", "ns", worst)]
        if with_subs:
            rows_fixed.append((f"e2e p99 {at}", "e2e_p99_ns", "ns", median))
        rows_fixed += [(f"broker CPU-us per publish {at}", "cpu_us_per_publish", "num", median),
                       (f"peak RSS {at}", "peak_rss_kb", "kb", median)]
        for title, key, kind, agg in rows_fixed:
            vals = [agg(part.get(k, []), key) for k in kinds]
            rows.append(f"| {title} | " + " | ".join(fmt(v, kind) for v in vals) +
                        f" | {ratio(vals[0], vals[-1])} |")

    every = {k: runs[k] + [r for f in res.get("fixed", []) for r in f["runs"].get(k, [])]
             for k in kinds}
    if with_subs:
        rows.append("| lost / dup / ooo (all runs) | " + " | ".join(totals(every[k]) for k in kinds)
                    + " | |")
    failed = [f"{k} run {i + 1}: {r.get('error')}" for k in kinds
              for i, r in enumerate(every[k]) if not r.get("completed")]
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
        "(publishers x 32) / rate by Little's law; the fixed-rate rows (fractions of the "
        "slowest broker's maximum) show the write path.",
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
