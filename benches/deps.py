#!/usr/bin/env python3
"""Dependencies and probes benchmark:
1. a quiet supervisor with no probe never wakes (its context switches over an idle spell),
   beside one with an http probe;
2. the CPU an http (and a tcp, an exec) probe costs the supervisor per check, from its
   scheduler time (/proc/PID/schedstat, ns) over many checks, minus a probe-less supervisor's;
3. a stack of 20 apps in 5 dependency levels (4 per level, each depending on every app of the
   level below, each ready the moment it listens): the time from `tsm start` to the last app
   listening against the sum over levels of the slowest app's own start (its first line to
   its listen), and the gap from a level's last listen to the next level's first line.

Usage: benches/deps.py [--quick] [--markdown FILE]
Environment: TSM_NATIVE (default target/release/tsm-native, else target/debug/tsm-native).
Everything runs in temporary folders and is deleted at the end. Linux only (/proc).
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
IDLE_S = 5 if QUICK else 20
PROBE_S = 5 if QUICK else 20
PERIOD_MS = 20
ROUNDS = 3 if QUICK else 7

LISTENER = r"""import os, socket, sys, time
name = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(64)
open(name + ".t", "w").write(str(time.time_ns()))
while True:
    c, _ = s.accept()
    try:
        c.recv(1024); c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    c.close()
"""


def binary():
    env = os.environ.get("TSM_NATIVE")
    if env:
        return os.path.abspath(env)
    for profile in ("release", "debug"):
        path = os.path.join(ROOT, "target", profile, "tsm-native")
        if os.path.exists(path):
            return path
    sys.exit("build tsm-native first (cargo build --release)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    def __init__(self, tsm):
        self.tmp = tempfile.mkdtemp(prefix="tsm-bench-deps-")
        self.env = dict(os.environ, TETRA_DIR=os.path.join(self.tmp, "tetra"))
        self.env.pop("PORT", None)
        self.tsm = tsm
        with open(os.path.join(self.tmp, "listener.py"), "w") as f:
            f.write(LISTENER)
        # The app's first moment, before python starts: its own start time begins there.
        app = os.path.join(self.tmp, "app.sh")
        with open(app, "w") as f:
            f.write('#!/bin/sh\ndate +%s%N > "$1.b"\nexec python3 listener.py "$1"\n')
        os.chmod(app, 0o755)

    def run(self, *args):
        return subprocess.run([self.tsm, *args], cwd=self.tmp, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def meta(self, name):
        path = os.path.join(self.tmp, "tetra", "tsm", "processes", name + ".meta")
        with open(path) as f:
            words = f.read().split()
        return dict(w.split("=", 1) for w in words if "=" in w)

    def supervisor(self, name):
        return int(self.meta(name)["supervisor_pid"])

    def close(self):
        subprocess.run([self.tsm, "delete", "all"], cwd=self.tmp, env=self.env,
                       capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def switches(pid):
    with open(f"/proc/{pid}/status") as f:
        return sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)


def cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def wait_for(pred, timeout=30):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.002)


def idle_and_probe_cost(w):
    ports = {k: free_port() for k in ("quiet", "http", "tcp", "exec")}
    period = f"{PERIOD_MS}ms"
    w.run("start", "python3", "quiet", "--port", str(ports["quiet"]), "--", "listener.py", "quiet")
    w.run("start", "python3", "http", "--port", str(ports["http"]), "--health-url",
          f"http://127.0.0.1:{ports['http']}/", "--health-interval", period, "--",
          "listener.py", "http")
    probe = {"tcp_socket": {"port": ports["tcp"]}, "period_seconds": PERIOD_MS / 1000}
    eco = {"apps": [
        {"name": "tcp", "script": "listener.py", "interpreter": "python3", "args": ["tcp"],
         "env": {"PORT": str(ports["tcp"])}, "autorestart": False, "readiness_probe": probe},
        {"name": "exec", "script": "listener.py", "interpreter": "python3", "args": ["exec"],
         "env": {"PORT": str(ports["exec"])}, "autorestart": False,
         "readiness_probe": {"exec": {"command": "true"}, "period_seconds": PERIOD_MS / 1000}},
    ]}
    with open(os.path.join(w.tmp, "probes.json"), "w") as f:
        json.dump(eco, f)
    w.run("start", "probes.json")
    names = {k: f"{k}-{p}" for k, p in ports.items()}
    for k, n in names.items():
        wait_for(lambda: os.path.exists(os.path.join(w.tmp, k + ".t")))
    time.sleep(1)  # past the first checks and the start's meta writes
    sups = {k: w.supervisor(n) for k, n in names.items()}
    before = {k: (switches(p), cpu_ns(p)) for k, p in sups.items()}
    started = time.monotonic()
    time.sleep(max(IDLE_S, PROBE_S))
    spent = time.monotonic() - started
    after = {k: (switches(p), cpu_ns(p)) for k, p in sups.items()}
    out = {}
    for k in sups:
        sw = after[k][0] - before[k][0]
        ns = after[k][1] - before[k][1]
        out[k] = (sw, ns)
    checks = spent * 1000 / PERIOD_MS
    quiet_ns = out["quiet"][1]
    per_check = {k: max(0, out[k][1] - quiet_ns) / checks / 1000 for k in ("http", "tcp", "exec")}
    return spent, out, checks, per_check


def floor(checks=1000):
    """The same syscalls from python (an in-process loop, its interpreter included): a
    nonblocking connect, a poll, SO_ERROR, for http a request, a poll and a read, a close,
    and a 2 ms sleep standing for the supervisor's timer wake-up; the server is another
    process. CPU per check from process_time."""
    import select
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    port = srv.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        while True:
            c, _ = srv.accept()
            try:
                c.recv(1024)
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            c.close()
    srv.close()
    out = {}
    try:
        for mode in ("tcp", "http"):
            t0 = time.process_time()
            for _ in range(checks):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                p = select.poll()
                p.register(s, select.POLLOUT)
                p.poll(1000)
                s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if mode == "http":
                    s.send(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                    p = select.poll()
                    p.register(s, select.POLLIN)
                    p.poll(1000)
                    s.recv(1024)
                s.close()
                time.sleep(0.002)
            out[mode] = (time.process_time() - t0) / checks * 1e6
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return out


def stack(w, levels=5, width=4):
    apps, ports = [], {}
    for level in range(levels):
        for i in range(width):
            name = f"l{level}a{i}"
            ports[name] = free_port()
            deps = [f"l{level - 1}a{j}" for j in range(width)] if level else []
            apps.append({"name": name, "script": "app.sh", "interpreter": "sh",
                         "args": [name], "env": {"PORT": str(ports[name])},
                         "depends_on": deps})
    with open(os.path.join(w.tmp, "stack.json"), "w") as f:
        json.dump({"apps": apps}, f)
    for name in ports:
        for ext in (".t", ".b"):
            try:
                os.remove(os.path.join(w.tmp, name + ext))
            except FileNotFoundError:
                pass
    t0 = time.time_ns()
    w.run("start", "stack.json")
    t1 = time.time_ns()
    stamps = {}
    for name in ports:
        got = []
        for ext in (".b", ".t"):
            path = os.path.join(w.tmp, name + ext)
            wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 1)
            with open(path) as f:
                got.append(int(f.read().strip()))
        stamps[name] = tuple(got)
    w.run("delete", "all")
    own = 0
    gaps = []
    for level in range(levels):
        names = [f"l{level}a{i}" for i in range(width)]
        own += max(stamps[n][1] - stamps[n][0] for n in names)
        if level:
            below = [f"l{level - 1}a{i}" for i in range(width)]
            ready = max(stamps[n][1] for n in below)
            gaps.append(min(stamps[n][0] for n in names) - ready)
    last = max(s[1] for s in stamps.values())
    return (last - t0) / 1e6, (t1 - t0) / 1e6, own / 1e6, [g / 1e6 for g in gaps]


def main():
    tsm = binary()
    w = World(tsm)
    try:
        spent, idle, checks, per_check = idle_and_probe_cost(w)
        w.run("delete", "all")
        runs = [stack(w) for _ in range(ROUNDS)]
        floors = floor()
    finally:
        w.close()
    total = statistics.median(r[0] for r in runs)
    own = statistics.median(r[2] for r in runs)
    gaps = sorted(g for r in runs for g in r[3])
    per_level = (total - own) / 5
    lines = [
        f"Measured by `benches/deps.py{' --quick' if QUICK else ''}` with `{os.path.relpath(tsm, ROOT)}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {os.getloadavg()[0]:.2f}; "
        f"{os.cpu_count()} cores.",
        "",
        f"Idle and probes over {spent:.1f} s, probes every {PERIOD_MS} ms ({checks:.0f} checks each):",
        "",
        "| supervisor of | context switches | CPU | CPU per check (minus the quiet one) | floor: the same syscalls from python | tsm/floor |",
        "|---|---:|---:|---:|---:|---:|",
        f"| a quiet service, no probe | {idle['quiet'][0]} | {idle['quiet'][1] / 1e3:.0f} µs | – | – | – |",
    ]
    for k, label in (("http", "http probe"), ("tcp", "tcp probe"), ("exec", "exec probe (`true`)")):
        f = floors.get(k)
        ratio = f"{per_check[k] / f:.2f}×" if f else "–"
        lines.append(f"| a quiet service, {label} | {idle[k][0]} | {idle[k][1] / 1e6:.1f} ms | "
                     f"{per_check[k]:.1f} µs | {f'{f:.1f} µs' if f else '–'} | {ratio} |")
    lines += [
        "",
        f"A stack of 20 apps in 5 levels (4 per level, each depending on all 4 below), python "
        f"listeners, {ROUNDS} rounds, medians:",
        "",
        "| `tsm start` → last app listening | Σ levels' slowest own start | overhead per level | "
        "gap: a level listening → the next level's first line (median, max) |",
        "|---:|---:|---:|---:|",
        f"| {total:.0f} ms | {own:.0f} ms | {per_level:.1f} ms | {statistics.median(gaps):.1f} ms, "
        f"{max(gaps):.1f} ms |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if "--markdown" in sys.argv:
        with open(sys.argv[sys.argv.index("--markdown") + 1], "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
