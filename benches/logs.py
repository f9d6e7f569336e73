#!/usr/bin/env python3
"""What the log features cost, measured against what they are held to.

1. The supervisor's CPU per MB of output, this build (with the time index) against a
   baseline build (without it): the same service `cat`s the same file of 100-byte lines; the
   supervisor's user+system time is read from /proc when the log has it all. Goal: ≤ 1.2×.
2. `tsm logs --grep` and `--since` over one service's log of --grep-mb MB (written through a
   real supervisor, so with its index) against `grep` and `awk` over the same file, output to
   /dev/null. Goal: ≤ 2×.
3. `tsm metrics` against `tsm list --json` with --services services running. Goal: ≤ 2×.

Usage: benches/logs.py --bin target/release/tsm-native --base BASE/tsm-native
           [--mb 200] [--grep-mb 256] [--services 1000] [--rounds 3] [--only 1,2,3]
Linux only (reads /proc). Prints a markdown report to stdout.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LINE = 100  # bytes per line, newline included


def make_file(path, mb, needle_every=100_000):
    """A file of `mb` MB of 100-byte numbered lines, one `needle` line every `needle_every`."""
    lines = mb * 1_000_000 // LINE
    with open(path, "w") as f:
        chunk = []
        for i in range(lines):
            word = "needle" if i % needle_every == 0 else "hay"
            body = f"line {i:010d} {word} "
            chunk.append(body + "x" * (LINE - 1 - len(body)) + "\n")
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return lines


def tsm(bin_, tetra, *args, check=True, out=subprocess.DEVNULL):
    env = dict(os.environ, TETRA_DIR=tetra)
    return subprocess.run([bin_, *args], env=env, check=check, stdout=out, stderr=subprocess.PIPE)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def meta(tetra, name):
    with open(os.path.join(tetra, "tsm", "processes", f"{name}.meta")) as f:
        return dict(w.split("=", 1) for w in f.read().split() if "=" in w)


def wait_for(cond, what, patience=600):
    deadline = time.time() + patience
    while not cond():
        if time.time() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.02)


def pump_once(bin_, data, size):
    """Supervisor CPU seconds to copy `data` (of `size` bytes) into its log; the tetra dir."""
    tetra = tempfile.mkdtemp(prefix="tsm-bench-logs-")
    script = os.path.join(tetra, "cat.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\nexec cat '{data}'\n")
    os.chmod(script, 0o755)
    # The service ends after its cat; restart never, so the supervisor stays for the drain.
    tsm(bin_, tetra, "start", "--no-port", "--restart", "never", script, "cat")
    sup = int(meta(tetra, "cat")["supervisor_pid"])
    log = os.path.join(tetra, "tsm", "logs", "cat.out")
    start = time.time()
    ticks = 0
    while True:
        try:
            ticks = cpu_ticks(sup)
        except FileNotFoundError:
            break  # the supervisor ended: its last reading stands
        if os.path.exists(log) and os.path.getsize(log) >= size:
            ticks = cpu_ticks(sup)
            break
        if time.time() - start > 600:
            sys.exit("the log never filled")
        time.sleep(0.005)
    return ticks / os.sysconf("SC_CLK_TCK"), tetra


def bench_pump(args, work):
    data = os.path.join(work, "data.txt")
    make_file(data, args.mb)
    size = os.path.getsize(data)
    per_mb = {"base": [], "new": []}
    for r in range(args.rounds):
        order = [("base", args.base), ("new", args.bin)]
        if r % 2:
            order.reverse()
        for label, bin_ in order:
            cpu, tetra = pump_once(bin_, data, size)
            per_mb[label].append(cpu * 1000 / (size / 1e6))
            tsm(bin_, tetra, "delete", "all", check=False)
            shutil.rmtree(tetra, ignore_errors=True)
    os.remove(data)
    base = statistics.median(per_mb["base"])
    new = statistics.median(per_mb["new"])
    print(f"## supervisor CPU per MB of output ({args.mb} MB of 100-byte lines, {args.rounds} rounds)\n")
    print("| build | CPU ms per MB (median) | runs |\n|---|---:|---|")
    print(f"| baseline (no time index) | {base:.2f} | {', '.join(f'{v:.2f}' for v in per_mb['base'])} |")
    print(f"| this build (time index) | {new:.2f} | {', '.join(f'{v:.2f}' for v in per_mb['new'])} |")
    print(f"\nratio: **{new / base:.2f}×** (goal ≤ 1.2×)\n")


def timed(cmd, env=None, runs=3, piped=False):
    """Median wall time of `cmd`; `piped`: its output goes through a pipe to `cat >/dev/null`
    (GNU grep writing to /dev/null itself stops at the first match, as -q does)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        if piped:
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            subprocess.run(["cat"], stdin=p.stdout, stdout=subprocess.DEVNULL, check=True)
            p.stdout.close()
            if p.wait() not in (0, 1):
                sys.exit(f"{cmd} failed")
        else:
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_grep(args, work):
    data = os.path.join(work, "big.txt")
    lines = make_file(data, args.grep_mb)
    size = os.path.getsize(data)
    tetra = tempfile.mkdtemp(prefix="tsm-bench-grep-")
    script = os.path.join(tetra, "cat.sh")
    # Two halves, apart in time: --since selects the second.
    half = os.path.join(work, "half")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\nhead -n {lines // 2} '{data}'\nwhile [ ! -e '{half}' ]; do sleep 0.05; done\ntail -n +{lines // 2 + 1} '{data}'\nexec sleep 100000\n")
    os.chmod(script, 0o755)
    tsm(args.bin, tetra, "start", "--no-port", script, "big")
    log = os.path.join(tetra, "tsm", "logs", "big.out")
    wait_for(lambda: os.path.exists(log) and os.path.getsize(log) >= size // 2 - LINE, "the first half")
    time.sleep(0.2)
    since_ms = int(time.time() * 1000)
    time.sleep(0.2)
    open(half, "w").close()
    wait_for(lambda: os.path.getsize(log) >= size, "the whole log")
    os.remove(data)
    env = dict(os.environ, TETRA_DIR=tetra, LC_ALL="C")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since_ms // 1000)) + f".{since_ms % 1000:03d}Z"
    cases = [
        ("rare pattern", [args.bin, "logs", "big", "--out", "--nostream", "--raw", "--grep", "needle"],
         ["grep", "needle", log]),
        ("every line", [args.bin, "logs", "big", "--out", "--nostream", "--raw", "--grep", "line"],
         ["grep", "line", log]),
        ("--grep-v (rare excluded)", [args.bin, "logs", "big", "--out", "--nostream", "--raw", "--grep-v", "needle"],
         ["grep", "-v", "needle", log]),
        ("--since (second half)", [args.bin, "logs", "big", "--out", "--nostream", "--raw", "--since", since],
         ["awk", f"NR > {lines // 2}", log]),
    ]
    print(f"## logs --grep / --since over a {size / 1e9:.2f} GB log ({lines:,} lines), against grep/awk\n")
    print("| case | tsm logs | grep/awk | tsm/tool |\n|---|---:|---:|---:|")
    for label, mine, theirs in cases:
        timed(mine, env, runs=1, piped=True)  # warm the page cache
        t_mine = timed(mine, env, args.rounds, piped=True)
        t_theirs = timed(theirs, env, args.rounds, piped=True)
        print(f"| {label} | {t_mine:.2f} s | {t_theirs:.2f} s | {t_mine / t_theirs:.2f}× |")
    print("\ngoal: ≤ 2× (`grep`: GNU grep, `awk`: the system's awk, `LC_ALL=C`; every output piped to `cat >/dev/null`)\n")
    tsm(args.bin, tetra, "delete", "all", check=False)
    shutil.rmtree(tetra, ignore_errors=True)


def bench_metrics(args):
    tetra = tempfile.mkdtemp(prefix="tsm-bench-metrics-")
    script = os.path.join(tetra, "nap.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho up\nexec sleep 100000\n")
    os.chmod(script, 0o755)
    for i in range(args.services):
        tsm(args.bin, tetra, "start", "--no-port", script, f"s{i}")
    env = dict(os.environ, TETRA_DIR=tetra)
    m, l = [], []
    for _ in range(args.rounds * 3):
        m.append(timed([args.bin, "metrics"], env, 1))
        l.append(timed([args.bin, "list", "--json"], env, 1))
    tm, tl = statistics.median(m), statistics.median(l)
    print(f"## tsm metrics at {args.services} running services\n")
    print("| command | median |\n|---|---:|")
    print(f"| tsm metrics | {tm * 1000:.1f} ms |\n| tsm list --json | {tl * 1000:.1f} ms |")
    print(f"\nratio: **{tm / tl:.2f}×** (goal ≤ 2×)\n")
    tsm(args.bin, tetra, "delete", "all", check=False)
    shutil.rmtree(tetra, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/tsm-native")
    p.add_argument("--base", help="a baseline tsm-native without the time index (for part 1)")
    p.add_argument("--mb", type=int, default=200)
    p.add_argument("--grep-mb", type=int, default=256)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="1,2,3")
    args = p.parse_args()
    args.bin = os.path.abspath(args.bin)
    only = set(args.only.split(","))
    work = tempfile.mkdtemp(prefix="tsm-bench-data-")
    load = os.getloadavg()
    print(f"<!-- benches/logs.py {' '.join(sys.argv[1:])} -->\n")
    print(f"nproc {os.cpu_count()}, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    try:
        if "1" in only:
            if not args.base:
                sys.exit("part 1 needs --base (a build without the time index)")
            args.base = os.path.abspath(args.base)
            bench_pump(args, work)
        if "2" in only:
            bench_grep(args, work)
        if "3" in only:
            bench_metrics(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
