#!/usr/bin/env python3
"""`tsm list` against its floor, an older tsm and OxMgr, at several N, in one run.

    benches/list.py --tsm BIN [--before BIN] [--oxmgr BIN] [--ns 10,100,1000]
                    [--trials 15] [--tetra N=DIR ...]

For each N, N `sleep` services are started (one CLI call each; `--tetra N=DIR` measures a
TETRA_DIR already holding N services instead), then every command is timed once per trial,
in turn, so that load from elsewhere falls on all of them alike; the medians are printed as
a Markdown table. The floor is benches/list_floor.c (compiled with cc): the system calls a
daemonless list cannot avoid — one readdir of processes/, one read of the table, one read of
/proc/locks, and per service an lstat of its meta file and of its life lock file and one read
of /proc/PID/stat. `cat` of every meta file is timed too. Every process started here carries
a mark and is killed at the end.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import marks

MARK = uuid.uuid4().hex
SLEEP = shutil.which("sleep")
HERE = os.path.dirname(os.path.abspath(__file__))


def timed(argv, env):
    """Elapsed and CPU (user + system) seconds of one run: on a loaded machine the elapsed
    time is mostly waiting for a core, the CPU time is the work."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, use = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:2]} exited {p.returncode}")
    return time.perf_counter() - t, use.ru_utime + use.ru_stime


def marked():
    """Every live process that carries this run's mark."""
    return marks.marked("LIST_BENCH_MARK", MARK)


def start_tsm(binary, tetra, n, work):
    svc = os.path.join(work, "svc.sh")
    with open(svc, "w") as f:
        f.write(f"#!/bin/sh\nexec {SLEEP} 86400\n")
    os.chmod(svc, 0o755)
    env = dict(os.environ, TETRA_DIR=tetra, LIST_BENCH_MARK=MARK)
    for i in range(n):
        subprocess.run([binary, "start", "--no-port", svc, f"s{i}"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def start_oxmgr(binary, home, n):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, OXMGR_HOME=home, OXMGR_API_ADDR=addr, LIST_BENCH_MARK=MARK)
    for i in range(n):
        subprocess.run([binary, "start", f"{SLEEP} 86400", "--name", f"s{i}"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tsm", required=True, help="the tsm-native to measure")
    ap.add_argument("--before", help="another tsm-native to measure beside it (same folders)")
    ap.add_argument("--oxmgr", help="OxMgr's binary (its own N services)")
    ap.add_argument("--ns", default="10,100,1000")
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--tetra", action="append", default=[], help="N=DIR: a folder with N services")
    a = ap.parse_args()
    given = dict(t.split("=", 1) for t in a.tetra)
    work = tempfile.mkdtemp(prefix="tsm-list-bench-")
    floor = os.path.join(work, "list_floor")
    subprocess.run(["cc", "-O2", "-o", floor, os.path.join(HERE, "list_floor.c")], check=True)
    rows = []
    try:
        for n in [int(x) for x in a.ns.split(",")]:
            tetra = given.get(str(n)) or os.path.join(work, f"tetra{n}")
            if str(n) not in given:
                start_tsm(a.tsm, tetra, n, work)
            env = dict(os.environ, TETRA_DIR=tetra)
            state = os.path.join(tetra, "tsm")
            metas = [os.path.join(state, "processes", f) for f in os.listdir(os.path.join(state, "processes"))
                     if f.endswith(".meta")]
            cmds = {"tsm": ([a.tsm, "list"], env), "floor": ([floor, state], env),
                    "cat": (["cat", *metas], env)}
            if a.before:
                cmds["before"] = ([a.before, "list"], env)
            if a.oxmgr:
                oxenv = start_oxmgr(a.oxmgr, os.path.join(work, f"ox{n}"), n)
                cmds["OxMgr"] = ([a.oxmgr, "list"], oxenv)
            for argv, e in cmds.values():
                timed(argv, e)  # warm

            times = {k: [] for k in cmds}
            cpus = {k: [] for k in cmds}
            for trial in range(a.trials):
                keys = list(cmds)
                keys = keys[trial % len(keys):] + keys[:trial % len(keys)]
                for k in keys:
                    wall, cpu = timed(*cmds[k])
                    times[k].append(wall)
                    cpus[k].append(cpu)
            med = {k: statistics.median(v) * 1000 for k, v in times.items()}
            cpu = {k: statistics.median(v) * 1000 for k, v in cpus.items()}
            rows.append((n, med))
            print(f"N={n} elapsed: " + ", ".join(f"{k} {v:.2f} ms" for k, v in med.items()), file=sys.stderr)
            print(f"N={n} cpu:     " + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items()), file=sys.stderr)
            if a.oxmgr:
                marks.kill_marked("LIST_BENCH_MARK", MARK)
            if str(n) not in given:
                subprocess.run([a.tsm, "delete", "*"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    finally:
        marks.kill_marked("LIST_BENCH_MARK", MARK)
        shutil.rmtree(work, ignore_errors=True)
    keys = list(rows[0][1]) if rows else []
    print("| N | " + " | ".join(f"{k} (ms)" for k in keys) + " | tsm / floor |"
          + (" tsm / OxMgr |" if a.oxmgr else "") + (" before / tsm |" if a.before else ""))
    print("|---:|" + "---:|" * (len(keys) + 1 + bool(a.oxmgr) + bool(a.before)))
    for n, med in rows:
        line = f"| {n} | " + " | ".join(f"{med[k]:.2f}" for k in keys) + f" | {med['tsm'] / med['floor']:.2f} |"
        if a.oxmgr:
            line += f" {med['tsm'] / med['OxMgr']:.2f} |"
        if a.before:
            line += f" {med['before'] / med['tsm']:.2f} |"
        print(line)


if __name__ == "__main__":
    main()
