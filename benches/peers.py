#!/usr/bin/env python3
"""tsm beside OxMgr and pm2, and the physical floors, in one run (benches/bench.sh calls it when
OXMGR=path is given; it runs on its own too).

    benches/peers.py --tsm BIN [--oxmgr BIN] [--pm2 BIN] [--ns 10,100,1000] [--out FILE]

For each N, each manager starts N services (`sleep`, one CLI call each), then is measured:
start one more (median), list (median), memory (Σ PSS of tsm's supervisors; the OxMgr or pm2
daemon's PSS), kill -9 of a stable service until its replacement runs (median; the new child
of the supervisor or daemon is watched in /proc), stop all, delete all. The floors are
measured in the same run. Every process it starts carries PEERS_MARK and is killed at the end.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import marks

MARK = uuid.uuid4().hex
SLEEP = shutil.which("sleep")


def now():
    return time.perf_counter()


def run(argv, env, check=True):
    out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and out.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {out.stderr.decode(errors='replace')[-300:]}")
    return out


def timed(argv, env, check=True):
    t = now()
    run(argv, env, check)
    return now() - t


CAP = 240.0


def timed_capped(argv, env):
    """One call timed; one still running after CAP seconds is killed and recorded as CAP
    (shown as "> CAP")."""
    t = now()
    try:
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=CAP)
    except subprocess.TimeoutExpired:
        return float("inf")
    return now() - t


def marked():
    """Every live process that carries this run's mark."""
    return marks.marked("PEERS_MARK", MARK)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(c) for c in f.read().split()}
    except OSError:
        return set()


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tsm:
    name = "tsm"

    def __init__(self, binary, work):
        self.bin = binary
        self.tetra = os.path.join(work, "tetra")
        self.env = dict(os.environ, TETRA_DIR=self.tetra, PEERS_MARK=MARK)
        self.env.pop("PORT", None)
        self.svc = os.path.join(work, "svc.sh")

    def start(self, name):
        return ["start", "--no-port", self.svc, name]

    def cmd(self, *words):
        return [self.bin, *words]

    def start_cmd(self, name):
        return self.cmd(*self.start(name))

    def config_start_cmd(self, work, n):
        """One call that starts n services from one ecosystem file (c0 … c{n-1})."""
        import json

        path = os.path.join(work, f"ecosystem-{n}.json")
        apps = [{"name": f"c{i}", "script": self.svc} for i in range(n)]
        with open(path, "w") as f:
            json.dump({"apps": apps}, f)
        return self.cmd("start", path)

    def delete_cmd(self, name):
        return self.cmd("delete", name)

    def list_cmd(self):
        return self.cmd("list")

    def stop_all_cmd(self):
        return self.cmd("stop", "*")

    def delete_all_cmd(self):
        return self.cmd("delete", "*")

    def memory(self):
        sups = [p for p in marked() if b"supervise" in cmdline(p)]
        return sum(pss(p) for p in sups), len(sups)

    def service_and_parent(self, name):
        meta = os.path.join(self.tetra, "tsm", "processes", f"{name}.meta")
        with open(meta) as f:
            words = dict(w.split("=", 1) for w in f.read().split() if "=" in w)
        return int(words["pid"]), int(words["supervisor_pid"])

    def teardown(self):
        run(self.cmd("delete", "*"), self.env, check=False)


class OxMgr(Tsm):
    name = "OxMgr"

    def __init__(self, binary, work):
        self.bin = binary
        home = os.path.join(work, "oxmgr")
        addr = f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ, OXMGR_HOME=home, OXMGR_API_ADDR=addr, PEERS_MARK=MARK)

    def start_cmd(self, name):
        return [self.bin, "start", f"{SLEEP} 86400", "--name", name]

    def list_cmd(self):
        return [self.bin, "list"]

    def stop_all_cmd(self):
        return [self.bin, "stop", "all"]

    def delete_all_cmd(self):
        return [self.bin, "delete", "all"]

    def delete_cmd(self, name):
        return [self.bin, "delete", name]

    def daemon(self):
        return [p for p in marked() if b"daemon" in cmdline(p) and b"run" in cmdline(p)]

    def memory(self):
        d = self.daemon()
        return sum(pss(p) for p in d), len(d)

    def service_and_parent(self, name):
        import json

        out = run([self.bin, "list", "--json"], self.env).stdout
        row = next(r for r in json.loads(out) if r["name"] == name)
        return int(row["pid"]), parent(int(row["pid"]))

    def teardown(self):
        run([self.bin, "delete", "all"], self.env, check=False)
        run([self.bin, "daemon", "stop"], self.env, check=False)


class Pm2(OxMgr):
    name = "pm2"

    def __init__(self, binary, work):
        self.bin = binary
        self.env = dict(os.environ, PM2_HOME=os.path.join(work, "pm2"), PEERS_MARK=MARK)

    def start_cmd(self, name):
        return [self.bin, "start", SLEEP, "--name", name, "--", "86400"]

    def list_cmd(self):
        return [self.bin, "jlist"]

    def daemon(self):
        return [p for p in marked() if cmdline(p)[0].startswith(b"PM2 v")]

    def service_and_parent(self, name):
        import json

        out = run([self.bin, "jlist"], self.env).stdout
        row = next(r for r in json.loads(out) if r["name"] == name)
        return int(row["pid"]), parent(int(row["pid"]))

    def teardown(self):
        run([self.bin, "kill"], self.env, check=False)


def median(xs):
    return statistics.median(xs) if xs else None


RECOVERY_CAP = 60.0


def running_service(m, name, deadline):
    """(service pid, its parent) once the manager reports a live service for `name`; None when it
    reports none before `deadline` (a manager may list a restarting service without a pid)."""
    while now() < deadline:
        try:
            pid, par = m.service_and_parent(name)
            if pid and par and os.path.exists(f"/proc/{pid}"):
                return pid, par
        except (OSError, KeyError, ValueError, TypeError, StopIteration, RuntimeError):
            pass
        time.sleep(0.05)
    return None


def recovery(m, name, trials):
    """kill -9 of `name`'s service → its replacement runs (a new child of the same parent).
    A replacement that does not appear within RECOVERY_CAP counts as inf."""
    times = []
    time.sleep(1.2)  # the run is stable once it has lasted min_uptime (tsm's: 1 s)
    for _ in range(trials):
        found = running_service(m, name, now() + RECOVERY_CAP)
        if found is None:
            times.append(float("inf"))
            break
        pid, par = found
        before = children(par)
        t = now()
        os.kill(pid, signal.SIGKILL)
        deadline = t + RECOVERY_CAP
        took = float("inf")
        while now() < deadline:
            new = children(par) - before - {pid}
            if new:
                took = now() - t
                break
        times.append(took)
        if took == float("inf"):
            break
        # Let the new run become stable again (min_uptime) before the next kill.
        time.sleep(1.2)
    return median(times)


def floor_start(runs):
    times, pids = [], []
    for _ in range(runs):
        t = now()
        subprocess.run(["setsid", "-f", SLEEP, "86399"], env=dict(os.environ, PEERS_MARK=MARK))
        times.append(now() - t)
    return median(times)


def floor_kill_reap(n):
    """kill -TERM of n sleeping children and reaping them all."""
    procs = [subprocess.Popen([SLEEP, "86399"]) for _ in range(n)]
    t = now()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait()
    return now() - t


def floor_respawn(trials):
    """kill -9 of a child, reaping it, and spawning its replacement."""
    times = []
    for _ in range(trials):
        p = subprocess.Popen([SLEEP, "86399"])
        time.sleep(0.01)
        t = now()
        p.kill()
        p.wait()
        q = subprocess.Popen([SLEEP, "86399"])
        times.append(now() - t)
        q.kill()
        q.wait()
    return median(times)


def floor_list(tetra):
    folder = os.path.join(tetra, "tsm", "processes")
    files = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".meta")]
    times = []
    for _ in range(9):
        t = now()
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL)
        times.append(now() - t)
    return median(times)


def level(managers, n, runs, trials, work):
    res = {}
    for m in managers:
        r = res.setdefault(m.name, {})
        if hasattr(m, "config_start_cmd") and m.name == "tsm":
            r["start_config"] = timed_capped(m.config_start_cmd(work, n), m.env)
            running = sum(1 for p in marked() if b"supervise" in cmdline(p))
            if running < n:
                raise RuntimeError(f"{m.name}: {running} of {n} services run after the config start")
            r["delete_config"] = timed_capped(m.delete_all_cmd(), m.env)
        t = now()
        for i in range(n):
            run(m.start_cmd(f"s{i}"), m.env)
        r["start_n"] = now() - t
        ones = []
        for _ in range(runs):
            ones.append(timed(m.start_cmd("one"), m.env))
            run(m.delete_cmd("one"), m.env, check=False)
        r["start_one"] = median(ones)
        lists = [timed(m.list_cmd(), m.env) for _ in range(runs)]
        r["list"] = median(lists)
        if m.name == "tsm":
            r["floor_list"] = floor_list(m.tetra)
        r["memory"], r["mem_procs"] = m.memory()
        r["recovery"] = recovery(m, "s0", trials) if n else None
        r["stop_all"] = timed_capped(m.stop_all_cmd(), m.env)
        r["delete_all"] = timed_capped(m.delete_all_cmd(), m.env)
        if r["delete_all"] == float("inf"):
            m.teardown()  # what the capped call left
        print(f"  {m.name} N={n}: " + ", ".join(f"{k}={v}" for k, v in r.items()), file=sys.stderr)
    return res


def fmt_t(s):
    if s is None:
        return "—"
    if s == float("inf"):
        return f"> {CAP:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.001:
        return f"{s * 1000:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_b(b):
    return "—" if not b else f"{b / 1e6:.1f} MB"


def report(results, floors, ns, names, meta):
    out = ["## tsm, OxMgr and pm2 side by side", ""]
    out.append(
        f"Generated by `benches/peers.py` (from `benches/bench.sh` with `OXMGR=path`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {meta}. Services are `sleep`, "
        "started one CLI call each; each manager is measured in turn at each N, all three "
        "managing their N services at once. Medians."
    )
    out.append("")
    rows = [
        ("start one", "start_one", fmt_t, "start"),
        ("list", "list", fmt_t, "list"),
        ("memory (tsm: Σ supervisor PSS; others: daemon PSS)", "memory", fmt_b, None),
        ("kill -9 → replacement running", "recovery", fmt_t, "recovery"),
        ("stop all", "stop_all", fmt_t, "kill"),
        ("delete all", "delete_all", fmt_t, "kill"),
        ("start N, one call each (total)", "start_n", fmt_t, None),
        ("start N from one config (one call)", "start_config", fmt_t, None),
    ]
    head = "| | N | " + " | ".join(names) + " | floor |"
    out += [head, "|---|---:|" + "---:|" * (len(names) + 1)]
    for label, key, fmt, floor in rows:
        for n in ns:
            cells = [fmt(results[n].get(m, {}).get(key)) for m in names]
            f = fmt_t(floors[n].get(floor)) if floor else "—"
            out.append(f"| {label} | {n} | " + " | ".join(cells) + f" | {f} |")
    out.append("")
    out.append(
        "Floors: start — `setsid -f sleep`; list — one `cat` of the N meta files; kill -9 → "
        "replacement — kill, reap and spawn a `sleep` (python3); stop/delete all — SIGTERM to N "
        "sleeping children and reaping them all."
    )
    out.append("")
    out += goals(results, floors, ns, names)
    return "\n".join(out) + "\n"


def goals(results, floors, ns, names):
    def get(n, m, k):
        return results[n].get(m, {}).get(k)

    def verdict(ok):
        return "**pass**" if ok else "**fail**"

    lines = ["Goals:", ""]
    peers = [m for m in names if m != "tsm"]

    def ahead(k, n):
        mine = get(n, "tsm", k)
        return mine is not None and all(get(n, p, k) is None or mine <= get(n, p, k) for p in peers)

    ok = all(ahead("list", n) and get(n, "tsm", "list") <= 1.5 * floors[n]["list"] for n in ns)
    lines.append(f"* list ≤ every peer's and ≤ 1.5× the `cat` floor at every N: {verdict(ok)}")
    ok = all(ahead("start_one", n) and get(n, "tsm", "start_one") <= 0.003 for n in ns)
    lines.append(f"* start one ≤ 3 ms and ≤ every peer's at every N: {verdict(ok)}")
    rec = [get(n, "tsm", "recovery") for n in ns if get(n, "tsm", "recovery")]
    ok = bool(rec) and max(rec) <= 0.005
    lines.append(f"* kill -9 of a stable service → replacement running ≤ 5 ms: {verdict(ok)}")
    measured = [n for n in ns if get(n, "OxMgr", "memory")]
    big = max(measured or ns)
    per = get(big, "tsm", "memory") / max(1, get(big, "tsm", "mem_procs") or 1)
    ox = get(big, "OxMgr", "memory")
    ok = ox is not None and get(big, "tsm", "memory") <= ox
    lines.append(
        f"* memory at N = {big}: Σ supervisor PSS ≤ OxMgr's daemon ({per / 1e3:.0f} kB per "
        f"supervisor): {verdict(ok)}"
    )
    ok = all(ahead("memory", n) or get(n, "pm2", "memory") is None or
             get(n, "tsm", "memory") <= get(n, "pm2", "memory") for n in ns)
    pm2_ok = all(get(n, "pm2", "memory") is None or get(n, "tsm", "memory") <= get(n, "pm2", "memory")
                 for n in ns)
    lines.append(f"* memory lighter than pm2 at every N measured: {verdict(pm2_ok)}")
    for k, label in [("stop_all", "stop all"), ("delete_all", "delete all")]:
        ok = all(ahead(k, n) and get(n, "tsm", k) <= 4 * floors[n]["kill"] for n in ns)
        lines.append(f"* {label} ahead of every peer and ≤ 4× the kill-and-reap floor: {verdict(ok)}")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsm", required=True)
    ap.add_argument("--oxmgr")
    ap.add_argument("--pm2")
    ap.add_argument("--ns", default="10,100,1000")
    ap.add_argument("--pm2-max", type=int, default=100, help="largest N pm2 is measured at")
    ap.add_argument("--oxmgr-max", type=int, default=1000, help="largest N OxMgr is measured at")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--out", help="markdown file whose section of these figures is replaced")
    a = ap.parse_args()
    ns = [int(n) for n in a.ns.split(",")]
    work = tempfile.mkdtemp(prefix="peers.")
    with open(os.path.join(work, "svc.sh"), "w") as f:
        f.write(f"#!/bin/sh\nexec {SLEEP} 86400\n")
    os.chmod(os.path.join(work, "svc.sh"), 0o755)
    tsm = Tsm(a.tsm, work)
    managers = [tsm]
    if a.oxmgr:
        managers.append(OxMgr(a.oxmgr, work))
    if a.pm2:
        managers.append(Pm2(a.pm2, work))
    names = [m.name for m in managers]
    results, floors = {}, {}
    t0 = now()
    try:
        for n in ns:
            print(f"N = {n}", file=sys.stderr)
            most = {"pm2": a.pm2_max, "OxMgr": a.oxmgr_max}
            here = [m for m in managers if n <= most.get(m.name, n)]
            results[n] = level(here, n, a.runs, a.trials, work)
            floors[n] = {
                "start": floor_start(a.runs),
                "kill": floor_kill_reap(n),
                "recovery": floor_respawn(a.trials),
                "list": results[n]["tsm"].pop("floor_list"),
            }
            for pid in marked():
                if cmdline(pid)[:1] == [SLEEP.encode()] and b"86399" in cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
    finally:
        for m in managers:
            m.teardown()
        marks.kill_marked("PEERS_MARK", MARK)
        shutil.rmtree(work, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3]
    meta = f"N = {', '.join(map(str, ns))}; it took {now() - t0:.0f} s; load average at the end {' '.join(load)}"
    text = report(results, floors, ns, names, meta)
    if a.out:
        splice(a.out, text)
    print(text)


def splice(path, section):
    """Puts `section` into the markdown file at `path`, replacing the one of the same heading
    (up to the next `## ` heading), or at the end."""
    heading = section.split("\n", 1)[0]
    try:
        with open(path) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = ""
    start = doc.find(heading + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + ("\n\n" if doc else "") + section
    else:
        end = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + section + (doc[end + 1 :] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
