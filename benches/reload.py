#!/usr/bin/env python3
"""Reload benchmark: a node HTTP app in cluster mode with 2 workers, reloaded while a client
sends requests back to back on loopback; tsm against pm2 in the same run: how long the
reload takes, how many requests were sent during it, how many failed (refused or dropped).

Usage: benches/reload.py [--quick] [--markdown FILE]
Environment: TSM_NATIVE (default target/release/tsm-native, built if missing),
             PM2 (a pm2 executable; pm2 is skipped without).
"""
import os, shutil, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 2 if "--quick" in sys.argv else 5
APP = ("require('http').createServer((q, r) => r.end(`${process.pid}`))"
       ".listen(process.env.PORT, '127.0.0.1');\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return b" 200 " in data.split(b"\r\n", 1)[0]
    except OSError:
        return False


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.01)


def under_load(port, reload):
    """Runs `reload` while a client requests `port`; returns (seconds, sent, failed)."""
    stop = threading.Event()
    counts = [0, 0]

    def client():
        while not stop.is_set():
            counts[0] += 1
            if not get(port):
                counts[1] += 1

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    reload()
    took = time.monotonic() - t0
    time.sleep(0.3)
    stop.set()
    t.join()
    return took, counts[0], counts[1]


def measure(label, port, reload):
    wait_for(lambda: get(port))
    runs = [under_load(port, reload) for _ in range(ROUNDS)]
    return {
        "who": label,
        "took_ms": 1000 * sorted(r[0] for r in runs)[len(runs) // 2],
        "sent": sum(r[1] for r in runs),
        "failed": sum(r[2] for r in runs),
    }


def main():
    tsm = os.environ.get("TSM_NATIVE") or os.path.join(ROOT, "target/release/tsm-native")
    if not os.environ.get("TSM_NATIVE"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    base = tempfile.mkdtemp(prefix="tsm-reload-")
    results = []
    try:
        with open(os.path.join(base, "app.js"), "w") as f:
            f.write(APP)
        env = dict(os.environ, TETRA_DIR=os.path.join(base, "tetra"))
        port = free_port()
        tsm_run = lambda *a: subprocess.run([tsm, *a], cwd=base, env=env, check=True,
                                            stdout=subprocess.DEVNULL)
        try:
            tsm_run("start", "-i", "2", "--port", str(port), "app.js")
            results.append(measure("tsm", port, lambda: tsm_run("reload", "app")))
        finally:
            subprocess.run([tsm, "delete", "*"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if os.environ.get("PM2"):
            pm2 = os.environ["PM2"]
            penv = dict(os.environ, PM2_HOME=os.path.join(base, "pm2home"), PORT=str(port))
            pm2_run = lambda *a: subprocess.run([pm2, *a], cwd=base, env=penv, check=True,
                                                stdout=subprocess.DEVNULL)
            try:
                pm2_run("start", "app.js", "-i", "2")
                results.append(measure("pm2", port, lambda: pm2_run("reload", "app")))
            finally:
                subprocess.run([pm2, "kill"], env=penv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = ["| what | " + " | ".join(r["who"] for r in results) + " |",
            "|---|" + "---|" * len(results)]
    for key, label in [("took_ms", f"reload of 2 workers, median of {ROUNDS} (ms)"),
                       ("sent", "requests sent during the reloads"),
                       ("failed", "requests refused or dropped")]:
        rows.append(f"| {label} | " + " | ".join(f"{r[key]:.0f}" for r in results) + " |")
    table = "\n".join(rows)
    print(table)
    if "--markdown" in sys.argv:
        with open(sys.argv[sys.argv.index("--markdown") + 1], "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
