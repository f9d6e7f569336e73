#!/usr/bin/env python3
"""Runtime benchmarks of tsm that need a stopwatch inside the run, each against its floor in
the same run (and pm2 where it is given): log ingest, last lines, follow latency, restart
after kill -9, a crash loop's CPU, and the cost of the listening check in `tsm list`.

Usage: benches/runtime.py [--quick] [--markdown FILE]
Environment: TSM_NATIVE (default target/release/tsm-native, built if missing),
             PM2 (a pm2 executable, with PM2_HOME, to add pm2's follow latency).
Everything runs in temporary folders and is stopped at the end.
"""
import os, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
ROUNDS = 3 if QUICK else 7


def sh(cmd, env=None, check=True, **kw):
    return subprocess.run(cmd, env=env, check=check, shell=isinstance(cmd, str), **kw)


def tsm_bin():
    path = os.environ.get("TSM_NATIVE") or os.path.join(ROOT, "target/release/tsm-native")
    if not os.path.exists(path):
        sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    return path


class World:
    """A private TETRA_DIR and work folder; everything started in it is deleted at the end."""

    def __init__(self, tsm):
        self.dir = tempfile.mkdtemp(prefix="tsm-rt-")
        self.env = dict(os.environ, TETRA_DIR=os.path.join(self.dir, "tetra"))
        self.tsm = tsm

    def run(self, *args, check=True):
        return sh([self.tsm, *args], env=self.env, check=check, cwd=self.dir,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def script(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o755)
        return path

    def log(self, name):
        return os.path.join(self.dir, "tetra/tsm/logs", name)

    def close(self):
        self.run("delete", "*", "--kill-timeout", "1s", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(pred, timeout=120):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.002)


def median(xs):
    return statistics.median(xs)


def ingest(w, size_mb):
    """A service writing SIZE MB of lines to stdout: its own write time under tsm, and the time
    until every byte is in the log, against the same command redirected to a file."""
    line = "2026-11-26 12:00:00 INFO some typical log line with words and numbers 1234567890"
    gen = f'yes "{line}" | head -c {size_mb}M'
    floor, service, stored = [], [], []
    for r in range(ROUNDS):
        out = os.path.join(w.dir, "floor.out")
        t0 = time.monotonic()
        sh(f"{gen} > {out}")
        floor.append(time.monotonic() - t0)
        os.remove(out)
        name = f"blast{r}"
        w.script(f"{name}.sh", f"#!/usr/bin/env bash\ns=$(date +%s%N)\n{gen}\ne=$(date +%s%N)\n"
                 f"echo $(( (e - s) / 1000 )) >&2\nexec sleep 1000\n")
        t0 = time.monotonic()
        w.run("start", "--port", str(30000 + r), f"{name}.sh")
        log = w.log(f"{name}-{30000 + r}.out")
        target = size_mb * 1024 * 1024
        wait_for(lambda: os.path.exists(log) and os.path.getsize(log) >= target - 200)
        stored.append(time.monotonic() - t0)
        err = w.log(f"{name}-{30000 + r}.err")
        wait_for(lambda: os.path.exists(err) and os.path.getsize(err) > 0)
        service.append(int(open(err).read().split()[0]) / 1e6)
        w.run("delete", name)
        os.remove(log)
    mb = size_mb
    return {
        "floor MB/s": mb / median(floor),
        "service MB/s under tsm": mb / median(service),
        "stored MB/s under tsm": mb / median(stored),
    }


def last_lines(w):
    w.script("hundredk.sh", "#!/bin/sh\nseq 1 100000 | sed 's/^/a log line number /'\nexec sleep 1000\n")
    w.run("start", "--port", "30100", "hundredk.sh")
    log = w.log("hundredk-30100.out")
    wait_for(lambda: os.path.exists(log) and os.path.getsize(log) > 2_000_000)
    time.sleep(0.3)
    def best(cmd):
        times = []
        for _ in range(ROUNDS * 10):
            t0 = time.monotonic()
            sh(cmd, env=w.env, stdout=subprocess.DEVNULL)
            times.append(time.monotonic() - t0)
        return median(times) * 1000
    tsm = best([w.tsm, "logs", "hundredk", "--lines", "50", "--nostream"])
    floor = best(["tail", "-n", "50", log])
    return {"tsm logs --lines 50 --nostream ms": tsm, "tail -n 50 ms": floor, "ratio": tsm / floor}


def follow_latency(w, pm2=None):
    w.run("start", "--port", "30200", "/bin/sleep", "lat", "--", "100000")
    log = w.log("lat-30200.out")
    def measure(cmd, env):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        time.sleep(1.0)
        lat = []
        for i in range(20 * ROUNDS):
            t0 = time.monotonic()
            with open(log, "a") as f:
                f.write(f"ping {i}\n")
            while b"ping" not in p.stdout.readline():
                pass
            lat.append((time.monotonic() - t0) * 1000)
            time.sleep(0.01)
        p.kill()
        p.wait()
        return median(lat)
    out = {
        "tsm logs -f ms": measure([w.tsm, "logs", "lat", "-f", "--lines", "0", "--raw", "--out"], w.env),
        "tail -F ms": measure(["tail", "-n", "0", "-F", log], w.env),
    }
    out["ratio"] = out["tsm logs -f ms"] / out["tail -F ms"]
    if pm2:
        env = dict(os.environ)
        sh([pm2, "start", "/bin/sleep", "--name", "tsmlat", "--", "100000"], env=env,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        home = env.get("PM2_HOME", os.path.expanduser("~/.pm2"))
        log = os.path.join(home, "logs", "tsmlat-out.log")
        try:
            wait_for(lambda: os.path.exists(log), timeout=30)
            out["pm2 logs ms"] = measure([pm2, "logs", "tsmlat", "--raw", "--lines", "0"], env)
            out["pm2/tsm"] = out["pm2 logs ms"] / out["tsm logs -f ms"]
        finally:
            sh([pm2, "delete", "tsmlat"], env=env, check=False,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def restart_after_kill(w):
    w.run("start", "--port", "30300", "--restart-delay", "0", "--min-uptime", "10ms",
          "/bin/sleep", "k9", "--", "100000")
    pidfile = os.path.join(w.dir, "tetra/tsm/pids/k9-30300.pid")
    def pid():
        try:
            return int(open(pidfile).read())
        except (OSError, ValueError):
            return None
    lat = []
    for _ in range(10 * ROUNDS):
        wait_for(lambda: pid() is not None)
        time.sleep(0.05)
        old = pid()
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: pid() not in (None, old))
        lat.append((time.monotonic() - t0) * 1000)
    return {"kill -9 to new pid ms (restart delay 0)": median(lat), "max ms": max(lat)}


def crash_loop_cpu(w, seconds):
    w.script("crash.sh", "#!/bin/sh\nexit 1\n")
    w.run("start", "--port", "30400", "--max-restarts", "1000000", "crash.sh")
    meta = open(os.path.join(w.dir, "tetra/tsm/processes/crash-30400.meta")).read()
    sup = int(meta.split("supervisor_pid=")[1].split()[0])
    time.sleep(seconds)
    fields = open(f"/proc/{sup}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    restarts = open(os.path.join(w.dir, "tetra/tsm/processes/crash-30400.meta")).read()
    restarts = restarts.split(" restarts=")[1].split()[0]
    return {f"supervisor CPU over {seconds}s crash loop ms": ticks * 1000 / os.sysconf("SC_CLK_TCK"),
            "restarts": int(restarts)}


def listening_check(w, n):
    w.script("idle.sh", "#!/bin/sh\nexec sleep 100000\n")
    w.script("listen.sh", "#!/bin/sh\nexec python3 -c \"import socket,os,time;s=socket.socket();"
             "s.bind(('127.0.0.1',int(os.environ['PORT'])));s.listen();time.sleep(10**6)\"\n")
    def timed(cmd, env=None):
        times = []
        for _ in range(ROUNDS * 10):
            t0 = time.monotonic()
            sh(cmd, env=env or w.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.monotonic() - t0)
        return median(times) * 1000
    for i in range(n):
        w.run("start", "--port", str(31000 + i), "idle.sh", f"idle{i}")
    quiet = timed([w.tsm, "list"])
    w.run("delete", "*")
    for i in range(n // 2):
        w.run("start", "--port", str(32000 + i), "idle.sh", f"idle{i}")
        w.run("start", "--port", str(33000 + i), "--wait", "listen.sh", f"web{i}")
    busy = timed([w.tsm, "list"])
    metas = sorted(os.path.join(w.dir, "tetra/tsm/processes", f)
                   for f in os.listdir(os.path.join(w.dir, "tetra/tsm/processes")) if f.endswith(".meta"))
    out = {
        f"list, {n} services, none listening ms": quiet,
        f"list, {n} services, half listening ms": busy,
        "check cost ms": busy - quiet,
        f"cat of {n} meta files ms": timed(["cat", *metas]),
    }
    if shutil.which("ss"):
        out["ss -ltnp ms"] = timed(["ss", "-ltnp"])
    if shutil.which("lsof"):
        out["lsof -iTCP -sTCP:LISTEN ms"] = timed(["lsof", "-iTCP", "-sTCP:LISTEN", "-n", "-P"])
    return out


def main():
    tsm = tsm_bin()
    results = []
    for title, fn in [
        ("Log ingest (500 MB; 50 MB with --quick)", lambda w: ingest(w, 50 if QUICK else 500)),
        ("Last 50 lines of a 100k-line log", last_lines),
        ("Follow latency (line appended → printed)",
         lambda w: follow_latency(w, os.environ.get("PM2"))),
        ("Restart after kill -9", restart_after_kill),
        ("Crash loop", lambda w: crash_loop_cpu(w, 10 if QUICK else 60)),
        ("Listening check in tsm list", lambda w: listening_check(w, 20 if QUICK else 100)),
    ]:
        w = World(tsm)
        try:
            print(f"== {title}", flush=True)
            figures = fn(w)
        finally:
            w.close()
        for k, v in figures.items():
            print(f"   {k}: {v:.2f}" if isinstance(v, float) else f"   {k}: {v}", flush=True)
        results.append((title, figures))
    if "--markdown" in sys.argv:
        path = sys.argv[sys.argv.index("--markdown") + 1]
        with open(path, "w") as f:
            f.write(f"### Runtime ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores"
                    f"{', quick' if QUICK else ''})\n\n| case | figure | value |\n|---|---|---|\n")
            for title, figures in results:
                for k, v in figures.items():
                    f.write(f"| {title} | {k} | {v:.2f} |\n" if isinstance(v, float) else f"| {title} | {k} | {v} |\n")


if __name__ == "__main__":
    main()
