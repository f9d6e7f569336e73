#!/usr/bin/env python3
"""Watch benchmark: a service watching a tree of 50,000 files (1,000 folders × 50), tsm against
pm2 in the same run: CPU spent setting the watch up, idle CPU over 60 s, memory (PSS) of
what watches (tsm: the service's supervisor; pm2: its daemon), and change-to-restart latency
(a file written → the new run's first line), the watch delay (100 ms for both) subtracted.

Usage: benches/watch.py [--quick] [--markdown FILE]
Environment: TSM_NATIVE (default target/release/tsm-native, built if missing),
             PM2 (a pm2 executable, e.g. /tmp/pm2/node_modules/.bin/pm2; pm2 is skipped without).
Everything runs in temporary folders and is stopped at the end.
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
IDLE_S = 10 if QUICK else 60
ROUNDS = 5 if QUICK else 15
DIRS, FILES = 1000, 50
DELAY_MS = 100
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pss_mb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.001)


def make_tree(root):
    for d in range(DIRS):
        folder = os.path.join(root, "src", f"d{d:04}")
        os.makedirs(folder)
        for f in range(FILES):
            with open(os.path.join(folder, f"f{f:02}.js"), "w") as out:
                out.write("// x\n")


def service(root, stamp):
    path = os.path.join(root, "run.sh")
    with open(path, "w") as f:
        f.write(f"#!/usr/bin/env bash\nexport PORT=4999\ndate +%s%N > {stamp}\nexec sleep 100000\n")
    os.chmod(path, 0o755)
    return path


def stamp_of(stamp):
    try:
        with open(stamp) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def measure(label, root, stamp, watcher_pid, setup_cpu):
    result = {"who": label, "setup_cpu_s": setup_cpu}
    before = cpu_s(watcher_pid)
    time.sleep(IDLE_S)
    result["idle_cpu_pct"] = 100 * (cpu_s(watcher_pid) - before) / IDLE_S
    result["pss_mb"] = pss_mb(watcher_pid)
    lat = []
    for i in range(ROUNDS):
        t0 = time.time_ns()
        with open(os.path.join(root, "src", f"d{i * 37 % DIRS:04}", "f00.js"), "w") as f:
            f.write(f"// {i}\n")
        wait_for(lambda: stamp_of(stamp) > t0)
        lat.append((stamp_of(stamp) - t0) / 1e6 - DELAY_MS)
        time.sleep(0.5)  # let the new run settle before the next change
    result["latency_ms"] = statistics.median(lat)
    result["latency_max_ms"] = max(lat)
    return result


def run_tsm(tsm, base):
    root = os.path.join(base, "tsm")
    make_tree(root)
    stamp = os.path.join(base, "tsm.stamp")
    service(root, stamp)
    env = dict(os.environ, TETRA_DIR=os.path.join(base, "tetra"))
    try:
        t0 = time.monotonic()
        subprocess.run([tsm, "start", "--watch", f"--watch-delay={DELAY_MS}ms", "run.sh"],
                       cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        start_ms = (time.monotonic() - t0) * 1000
        meta = open(os.path.join(base, "tetra/tsm/processes/run-4999.meta")).read()
        sup = int(meta.split("supervisor_pid=")[1].split()[0])
        wait_for(lambda: stamp_of(stamp) != 0)
        r = measure("tsm", root, stamp, sup, cpu_s(sup))
        r["start_ms"] = start_ms
        return r
    finally:
        subprocess.run([tsm, "delete", "*"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def run_pm2(pm2, base):
    root = os.path.join(base, "pm2")
    make_tree(root)
    stamp = os.path.join(base, "pm2.stamp")
    service(root, stamp)
    home = os.path.join(base, "pm2home")
    env = dict(os.environ, PM2_HOME=home)
    try:
        subprocess.run([pm2, "ping"], env=env, check=True, stdout=subprocess.DEVNULL)
        daemon = int(open(os.path.join(home, "pm2.pid")).read())
        cpu0 = cpu_s(daemon)
        t0 = time.monotonic()
        subprocess.run([pm2, "start", "run.sh", "--interpreter", "bash", "--watch",
                        "--watch-delay", str(DELAY_MS / 1000)],
                       cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        start_ms = (time.monotonic() - t0) * 1000
        wait_for(lambda: stamp_of(stamp) != 0)
        # chokidar scans the tree after the start: wait until the daemon is quiet.
        last = cpu_s(daemon)
        while True:
            time.sleep(2)
            now = cpu_s(daemon)
            if now - last < 0.05:
                break
            last = now
        r = measure("pm2", root, stamp, daemon, cpu_s(daemon) - cpu0)
        r["start_ms"] = start_ms
        return r
    finally:
        subprocess.run([pm2, "kill"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def main():
    tsm = os.environ.get("TSM_NATIVE") or os.path.join(ROOT, "target/release/tsm-native")
    if not os.environ.get("TSM_NATIVE"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    base = tempfile.mkdtemp(prefix="tsm-watch-")
    try:
        results = [run_tsm(tsm, base)]
        if os.environ.get("PM2"):
            results.append(run_pm2(os.environ["PM2"], base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = [
        "| what | " + " | ".join(r["who"] for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for key, label, fmt in [
        ("start_ms", "`start --watch` returns (ms)", "{:.0f}"),
        ("setup_cpu_s", "CPU to set the watch up (s)", "{:.2f}"),
        ("idle_cpu_pct", f"idle CPU over {IDLE_S} s (% of a core)", "{:.3f}"),
        ("pss_mb", "memory of the watcher (PSS, MB)", "{:.1f}"),
        ("latency_ms", f"change → new run, after the {DELAY_MS} ms delay (median of {ROUNDS}, ms)", "{:.1f}"),
        ("latency_max_ms", "… slowest (ms)", "{:.1f}"),
    ]:
        rows.append(f"| {label} | " + " | ".join(fmt.format(r[key]) for r in results) + " |")
    table = "\n".join(rows)
    print(table)
    if "--markdown" in sys.argv:
        with open(sys.argv[sys.argv.index("--markdown") + 1], "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
