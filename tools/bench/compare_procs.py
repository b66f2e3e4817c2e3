"""Processes of compare.py: the brokers (sluiced in its modes, Mosquitto, the bare relay)
started fresh per run and pinned to a core, and what is sampled from /proc about them.

Broker.start() raises RuntimeError when a broker does not come up within 10 s (or exits);
stop() terminates it (SIGTERM, then SIGKILL after 10 s) and removes its work directory.
Python 3 standard library only.
"""

import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


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




def wait_listening(port, proc, error, timeout_s=10):
    """Waits until 127.0.0.1:port accepts a connection; RuntimeError(error) if proc exits or
    timeout_s passes first."""
    deadline = time.time() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(error)
            time.sleep(0.05)


def stop_process(proc, timeout_s=10):
    """SIGTERM, then SIGKILL after timeout_s; reaps it."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_with_ready_fd(cmd, err, cpu, nofile):
    """Starts a program that writes its HOST:PORT to --ready-fd; returns (proc, address)."""
    r, w = os.pipe()
    proc = subprocess.Popen(cmd + ["--ready-fd", str(w)], stdout=subprocess.DEVNULL, stderr=err,
                            pass_fds=(w,), preexec_fn=limits_preexec(cpu, nofile))
    os.close(w)
    with os.fdopen(r) as ready:  # EOF (empty line) if it exits before listening
        line = ready.readline().strip()
    if not line:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{os.path.basename(cmd[0])} did not become ready: see {err.name}")
    return proc, line


class Broker:
    """One broker process (or the relay), started fresh for each run."""

    def __init__(self, kind, args, workdir, cpu, nofile=None, durable=False):
        # kind: "sluice" (durability=memory, or the log with fsync=batch when durable),
        # "sluice-nofsync" (log, --log-fsync=none), "sluice-log" (log, fsync=batch),
        # "sluice-memory" (durability=memory), "mosquitto" (persistence true when durable)
        # or "relay" (tools/bench/relay).
        self.kind, self.args, self.cpu, self.nofile = kind, args, cpu, nofile
        self.workdir = tempfile.mkdtemp(prefix=kind + "-", dir=workdir)
        self.durable = durable
        self.proc = None
        self.address = None

    def sluiced_cmd(self):
        cmd = [self.args.sluiced, "--listen", "127.0.0.1:0", "--data-dir",
               os.path.join(self.workdir, "data"), "--threads", str(self.args.sluice_threads),
               "--log-level", "warn", "--max-inflight", "100",
               # No admin/metrics listeners: Mosquitto runs none, and fixed ports collide.
               "--admin-listen=", "--metrics-listen="]
        # In the log modes a session's backlog stays in the commit log (max_queued_messages is
        # off by default, README "Sessions read their backlog from the log"): nothing acked is
        # dropped for a slow subscriber. In memory mode sluiced keeps Mosquitto's queue limit.
        if self.kind == "sluice-nofsync":
            cmd.append("--log-fsync=none")
        elif self.kind == "sluice-log" or (self.kind == "sluice" and self.durable):
            cmd.append("--log-fsync=batch")  # the default, stated for the record
        else:
            # Non-durable scenarios compare like with like: Mosquitto keeps QoS 1 in memory,
            # so does sluiced with durability=memory (README "Durability").
            cmd += ["--durability=memory", "--max-queued-messages", "1000"]
        return cmd

    def mosquitto_conf(self, port):
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"max_queued_messages 1000\nmax_inflight_messages 100\n"
                    f"set_tcp_nodelay true\nlog_dest stderr\nlog_type error\n"
                    f"log_type warning\n")
            if self.durable:
                # autosave_interval left at its default (1800 s) unless asked: Mosquitto then
                # writes mosquitto.db only at shutdown within a run.
                f.write(f"persistence true\npersistence_location {self.workdir}/\n")
                if self.args.mosquitto_autosave > 0:
                    f.write(f"autosave_interval {self.args.mosquitto_autosave}\n")
            else:
                f.write("persistence false\n")
        return conf

    def start(self):
        err = open(os.path.join(self.workdir, "stderr.log"), "wb")
        if self.kind.startswith("sluice"):
            self.proc, self.address = start_with_ready_fd(self.sluiced_cmd(), err, self.cpu,
                                                          self.nofile)
        elif self.kind == "relay":
            self.proc, self.address = start_with_ready_fd(
                [self.args.relay, "--listen", "127.0.0.1:0"], err, self.cpu, self.nofile)
        else:
            port = free_port()
            conf = self.mosquitto_conf(port)
            self.proc = subprocess.Popen([self.args.mosquitto, "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=limits_preexec(self.cpu, self.nofile))
            wait_listening(port, self.proc, "mosquitto did not start: see " + err.name)
            self.address = f"127.0.0.1:{port}"
        time.sleep(0.2)
        return self.address

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_lines(self):
        try:
            with open(os.path.join(self.workdir, "stderr.log"), "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0
