#!/usr/bin/env python3
"""Start one service, as one CLI call, at several N: tsm binaries side by side (a before and
an after, interleaved trial by trial), OxMgr when given, and the floor (`setsid -f sleep`).

    benches/start_one.py --tsm BIN [--tsm BIN2 …] [--oxmgr BIN] [--ns 10,1000] [--trials 25]

Each manager's folder is filled to N services (`sleep`), then each trial starts `one` (timed,
wall clock and the CPU time of the call and the children it reaps) and deletes it again. The
two forms: `start -n NAME -- sleep 1000` and peers.py's `start --no-port SCRIPT NAME`.
Every process it starts carries a mark and is killed at the end.
"""

import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid

import marks

MARK = uuid.uuid4().hex
SLEEP = shutil.which("sleep")


def call(argv, env):
    """Wall ms and CPU ms (its own and what it reaped) of one call."""
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed")
    return wall * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3


def quiet(argv, env):
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Tsm:
    def __init__(self, binary, work, i):
        self.label = f"tsm {binary}"
        self.bin = binary
        self.env = dict(os.environ, TETRA_DIR=os.path.join(work, f"tetra{i}"), PEERS_MARK=MARK)
        self.env.pop("PORT", None)
        self.svc = os.path.join(work, "svc.sh")

    def forms(self, name):
        return {
            "sleep": [self.bin, "start", "-n", name, "--", SLEEP, "1000"],
            "script": [self.bin, "start", "--no-port", self.svc, name],
        }

    def delete(self, name):
        quiet([self.bin, "delete", name], self.env)

    def teardown(self):
        quiet([self.bin, "delete", "*"], self.env)


class OxMgr:
    def __init__(self, binary, work):
        self.label = "OxMgr"
        self.bin = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{s.getsockname()[1]}"
        home = os.path.join(work, "oxmgr")
        self.env = dict(os.environ, OXMGR_HOME=home, OXMGR_API_ADDR=addr, PEERS_MARK=MARK)

    def forms(self, name):
        return {"sleep": [self.bin, "start", f"{SLEEP} 1000", "--name", name]}

    def delete(self, name):
        quiet([self.bin, "delete", name], self.env)

    def teardown(self):
        quiet([self.bin, "delete", "all"], self.env)


def marked():
    """Every live process that carries this run's mark."""
    return marks.marked("PEERS_MARK", MARK)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsm", action="append", required=True)
    ap.add_argument("--oxmgr")
    ap.add_argument("--ns", default="10,1000")
    ap.add_argument("--trials", type=int, default=25)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="start-one.")
    with open(os.path.join(work, "svc.sh"), "w") as f:
        f.write(f"#!/bin/sh\nexec {SLEEP} 86400\n")
    os.chmod(os.path.join(work, "svc.sh"), 0o755)
    managers = [Tsm(b, work, i) for i, b in enumerate(a.tsm)]
    if a.oxmgr:
        managers.append(OxMgr(a.oxmgr, work))
    have = {m.label: 0 for m in managers}
    floor_env = dict(os.environ, PEERS_MARK=MARK)
    try:
        for n in [int(x) for x in a.ns.split(",")]:
            for m in managers:
                for i in range(have[m.label], n):
                    call(m.forms(f"s{i}")["sleep"], m.env)
                have[m.label] = n
            times = {}
            for _ in range(a.trials):
                times.setdefault("floor", []).append(
                    call([shutil.which("setsid"), "-f", SLEEP, "1000"], floor_env))
                for m in managers:
                    for form, argv in m.forms("one").items():
                        times.setdefault(f"{m.label} ({form})", []).append(call(argv, m.env))
                        m.delete("one")
            print(f"N = {n} ({a.trials} trials, load {os.getloadavg()[0]:.1f})")
            for label, ts in times.items():
                wall = statistics.median(t[0] for t in ts)
                cpu = statistics.median(t[1] for t in ts)
                low = min(t[0] for t in ts)
                print(f"  {label:60s} median {wall:6.2f} ms  min {low:6.2f}  cpu {cpu:5.2f} ms")
    finally:
        for m in managers:
            m.teardown()
        marks.kill_marked("PEERS_MARK", MARK)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
