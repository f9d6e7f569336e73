#!/usr/bin/env bash
# benches/bench.sh: a reproducible benchmark of tsm against pm2 and the physical floor.
#
#   benches/bench.sh                   full run: N = 0 10 100 1000 services (8-12 minutes,
#                                      pm2 stop all at 1,000 services alone takes 2-3)
#   BENCH_QUICK=1 benches/bench.sh     quick run: N up to 100, fewer rounds (under 2 minutes)
#
# It builds tsm (`cargo build --release`), installs pm2 at a pinned version from the npm
# registry into a temporary prefix with its own PM2_HOME, and runs every case for tsm, the
# physical floor and pm2 in the same run, alternating, over several rounds. It writes
# docs/benchmarks.md (medians, ratios, per-service slopes, goals) and prints it. Every process
# it starts is stopped on exit (also on Ctrl-C), and it checks that none is left behind.
#
# Environment (defaults: full / quick):
#   BENCH_NS="0 10 100 1000" / "0 10 100"   numbers of managed services, in any order
#   BENCH_ROUNDS=5 / 2           alternating rounds per case
#   BENCH_RUNS=12 / 8            timed runs per round of a fast command (tsm, floor)
#   BENCH_PM2_RUNS=3 / 1         timed runs per round of a pm2 command (at N >= 1000: 1 run
#                                in each of the first 3 rounds only)
#   BENCH_STOP_ROUNDS=3 / 1      rounds of the `stop '*'` case (N >= 1000: 2 for tsm, 1 for pm2)
#   BENCH_PM2_CLI_MAX=90 / 10    per level up to 100 services, at most this many pm2 services
#                                are started one CLI call each; the rest of the level is started
#                                first with one ecosystem file, and the total is extrapolated
#   BENCH_PM2_CLI_MAX_BIG=30 / 10  the same for levels above 100 services
#   BENCH_PM2_VERSION=7.0.4      pm2 version (the newest one is used if it is not published)
#   BENCH_NO_PM2=1               leave pm2 out
#   BENCH_SOURCE=tree            `tree`: cargo build --release in this checkout (BENCH_REV alone
#                                when the working tree does not build); `head`: build BENCH_REV
#                                alone (git archive, no uncommitted work) in target/bench-head
#   BENCH_REV=HEAD               the commit that BENCH_SOURCE=head builds
#   BENCH_OUT=docs/benchmarks.md where the report goes (relative to the repository)
#   BENCH_KEEP=1                 keep the temporary folder (samples, logs) for a look
#   BENCH_REPORT_FROM=DIR        only write the report again from the samples of a kept run
#   OXMGR=PATH                   also run benches/peers.py: tsm beside OxMgr (the `oxmgr` binary
#                                at PATH) and pm2, N = BENCH_PEERS_NS (default 10 100 1000 10000; OxMgr
#                                up to 1,000, pm2 up to 100); its
#                                section of the report is written after the others
#   BENCH_PEERS_ONLY=1           with OXMGR: only that comparison (its section replaced in
#                                BENCH_OUT, the rest of the file kept)
set -Eeuo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
    NS=${BENCH_NS:-"0 10 100"}
    ROUNDS=${BENCH_ROUNDS:-2}
    RUNS=${BENCH_RUNS:-8}
    PM2_RUNS=${BENCH_PM2_RUNS:-1}
    STOP_ROUNDS=${BENCH_STOP_ROUNDS:-1}
    PM2_CLI_MAX=${BENCH_PM2_CLI_MAX:-10}
    PM2_CLI_MAX_BIG=${BENCH_PM2_CLI_MAX_BIG:-10}
else
    NS=${BENCH_NS:-"0 10 100 1000"}
    ROUNDS=${BENCH_ROUNDS:-5}
    RUNS=${BENCH_RUNS:-12}
    PM2_RUNS=${BENCH_PM2_RUNS:-3}
    STOP_ROUNDS=${BENCH_STOP_ROUNDS:-3}
    PM2_CLI_MAX=${BENCH_PM2_CLI_MAX:-90}
    PM2_CLI_MAX_BIG=${BENCH_PM2_CLI_MAX_BIG:-30}
fi
PM2_VERSION_WANTED=${BENCH_PM2_VERSION:-7.0.4}
SOURCE=${BENCH_SOURCE:-tree}
REV=${BENCH_REV:-HEAD}
OUT=${BENCH_OUT:-docs/benchmarks.md}
[[ $OUT == /* ]] || OUT=$REPO/$OUT
LOG_LINES=100000
BASE_PORT=20000
ONE_PORT=39999
LOG_PORT=39998

for n in $NS; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "bench: BENCH_NS must hold numbers, got '$n'" >&2; exit 64; }
done
read -r -a ns_list <<<"$NS"
NS=$(printf '%s\n' "${ns_list[@]}" | sort -n -u | tr '\n' ' ')
NS=${NS% }
MAX_N=${NS##* }

BENCH_T0=$SECONDS
say() { printf '[%4ds] %s\n' "$((SECONDS - BENCH_T0))" "$*" >&2; }

# ---------------------------------------------------------------- temp folder and cleanup
WORK=$(mktemp -d /tmp/tsm-bench.XXXXXX)
[[ $WORK =~ ^[A-Za-z0-9/._-]+$ ]] || { echo "bench: odd temp path $WORK" >&2; exit 1; }
DATA=$WORK/data
BIN=$WORK/bin
mkdir -p "$DATA" "$BIN"
HELPER=$WORK/helper.py
NOTES=$DATA/notes
: >"$NOTES"
note() { say "note: $*"; printf '%s\n' "$*" >>"$NOTES"; }
# Every process this run starts carries this variable: that is how leftovers are found.
export TSM_BENCH_MARK=$WORK
export TETRA_DIR=$WORK/tetra
export PM2_HOME=$WORK/pm2home
TSM=$BIN/tsm-native
PM2=
FLOOR_SLEEP=$BIN/floor-sleep
CLEANED=0
# The interpreter itself, without pyenv's shim and without site (startup 20 ms, not 500 ms):
# the helper needs the standard library only.
PY=$(python3 -c 'import sys; print(sys.executable)')
py() { "$PY" -S "$HELPER" "$@"; }

pm2_daemon_pid() {
    local pid=
    [[ -r $PM2_HOME/pm2.pid ]] && pid=$(<"$PM2_HOME/pm2.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]]; then echo "$pid"; fi
}

teardown() {
    if [[ -x $TSM && -d $TETRA_DIR/tsm/processes ]]; then
        "$TSM" delete '*' --kill-timeout 2s >/dev/null 2>&1 || true
    fi
    if [[ -n $PM2 && -n $(pm2_daemon_pid) ]]; then
        "$PM2" kill >/dev/null 2>&1 || true
    fi
    if [[ -f $HELPER ]]; then py killfloor "$FLOOR_SLEEP" || true; fi
}

# Prints what is left of this run (processes carrying the mark) and SIGKILLs it by pid.
verify_clean() {
    local left
    left=$(py leftovers "$WORK" --kill) || true
    if [[ -z $left ]]; then
        say "clean: no sleep service, tsm supervisor or pm2 daemon of this run is left"
        return 0
    fi
    say "LEFT BEHIND (now killed):"
    printf '%s\n' "$left" >&2
    return 1
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ $CLEANED == 0 ]]; then
        say "cleaning up"
        teardown
        [[ -f $HELPER ]] && verify_clean
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helper (python3)
cat >"$HELPER" <<'PY'
"""Timing, process and memory helpers and the report writer of benches/bench.sh."""
import json, os, signal, statistics, subprocess, sys, time

DEV = subprocess.DEVNULL


def samples_out(rnd, values):
    for v in values:
        print(rnd, repr(float(v)))


def hfjson(path, rnd, key, data):
    res = json.load(open(path))["results"][0]
    samples_out(rnd, res["times"])
    bad = sum(1 for c in res.get("exit_codes") or [] if c)
    if bad:
        with open(os.path.join(data, "failures"), "a") as f:
            f.write(f"{key}\t{bad}\n")


def timeloop(runs, rnd, key, data, warm, prepare, argv):
    """Fallback when hyperfine is missing: perf_counter around fork+exec+wait."""
    out, bad = [], 0
    for i in range(int(runs) + int(warm)):
        if prepare:
            subprocess.run(prepare, shell=True, stdin=DEV, stdout=DEV, stderr=DEV)
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=DEV, stdout=DEV, stderr=DEV).returncode
        t1 = time.perf_counter()
        if i >= int(warm):
            out.append(t1 - t0)
            bad += rc != 0
    samples_out(rnd, out)
    if bad:
        with open(os.path.join(data, "failures"), "a") as f:
            f.write(f"{key}\t{bad}\n")


def floor_stop(n, rnd, sleeper):
    """N sleeping children; time `kill -TERM` of all of them plus reaping every one."""
    n = int(n)
    if n == 0:
        return
    procs = [subprocess.Popen([sleeper, "86398"], stdin=DEV, stdout=DEV, stderr=DEV,
                              start_new_session=True) for _ in range(n)]
    time.sleep(0.05)
    t0 = time.perf_counter()
    subprocess.run(["kill", "-TERM"] + [str(p.pid) for p in procs])
    for p in procs:
        p.wait()
    samples_out(rnd, [time.perf_counter() - t0])


def floor_restart(runs, rnd, sleeper):
    """One sleeping child; time `kill -TERM` of it, reaping it, and spawning a new one."""
    p = subprocess.Popen([sleeper, "86397"], stdin=DEV, stdout=DEV, stderr=DEV,
                         start_new_session=True)
    out = []
    for _ in range(int(runs)):
        time.sleep(0.005)
        t0 = time.perf_counter()
        subprocess.run(["kill", "-TERM", str(p.pid)])
        p.wait()
        p = subprocess.Popen([sleeper, "86397"], stdin=DEV, stdout=DEV, stderr=DEV,
                             start_new_session=True)
        out.append(time.perf_counter() - t0)
    p.terminate()
    p.wait()
    samples_out(rnd, out)


def procs():
    for d in os.listdir("/proc"):
        if d.isdigit():
            yield int(d)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        rest = text[text.rindex(")") + 2:].split()
        return rest[0], int(rest[1])
    except (OSError, ValueError, IndexError):
        return "?", 0


def killfloor(sleeper):
    target = sleeper.encode()
    for pid in procs():
        if cmdline(pid)[:1] == [target]:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def ancestors():
    seen, pid = set(), os.getpid()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        pid = state(pid)[1]
    return seen


def leftovers(work, kill=False):
    """Live processes of this run: they carry TSM_BENCH_MARK=WORK or name WORK."""
    mark = b"TSM_BENCH_MARK=" + work.encode()
    skip = ancestors()
    found = []
    for pid in procs():
        if pid in skip:
            continue
        st, _ = state(pid)
        if st in ("Z", "X", "?"):
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            env = []
        cmd = b" ".join(cmdline(pid))
        if mark in env or work.encode() in cmd:
            found.append((pid, cmd.decode(errors="replace")))
    for pid, cmd in found:
        print(pid, cmd)
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def rollup(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
                    vals[parts[0][:-1]] = int(parts[1])
    except OSError:
        pass
    return vals.get("Pss", 0), vals.get("Rss", 0)


def mem(tsm, pm2_pid):
    """kB: sum of PSS and RSS of every supervisor of this tsm binary; the pm2 daemon's."""
    pss = rss = count = 0
    for pid in procs():
        c = cmdline(pid)
        if len(c) > 1 and c[0] == tsm.encode() and c[1] == b"supervise":
            p, r = rollup(pid)
            pss, rss, count = pss + p, rss + r, count + 1
    ppss, prss = rollup(int(pm2_pid)) if pm2_pid else (0, 0)
    print(count, pss, rss, ppss, prss)


def count_online(kind):
    data = json.load(sys.stdin)
    if kind == "tsm":
        print(sum(1 for p in data if p.get("status") == "online"))
    else:
        print(sum(1 for p in data if p.get("pm2_env", {}).get("status") == "online"))


def ecosystem(path, first, count):
    apps = [{"name": f"p{i}", "script": "sleep", "args": "100000", "autorestart": True}
            for i in range(int(first), int(first) + int(count))]
    with open(path, "w") as f:
        f.write("module.exports = " + json.dumps({"apps": apps}, indent=1) + ";\n")


# ------------------------------------------------------------------ report
def load(data, key):
    path = os.path.join(data, key)
    rounds = {}
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                rounds.setdefault(parts[0], []).append(float(parts[1]))
    if not rounds:
        return None
    allv = [v for vs in rounds.values() for v in vs]
    meds = [statistics.median(vs) for vs in rounds.values()]
    return {"median": statistics.median(allv), "n": len(allv), "rounds": len(rounds),
            "round_meds": meds, "all": allv}


def fmt_t(s):
    if s is None:
        return "—"
    if s < 0:
        return "0 µs" if s > -5e-7 else "−" + fmt_t(-s)
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.001:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_kb(kb):
    if kb is None:
        return "—"
    return f"{kb / 1024:.2f} MB" if kb < 10 * 1024 else f"{kb / 1024:.1f} MB"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    if r < 10:
        return f"{r:.2f}×"
    return f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def spread(st):
    """Half the spread of the per-round medians, relative to the median."""
    if st is None or st["rounds"] < 2 or st["median"] == 0:
        return "—"
    m = st["round_meds"]
    return f"±{(max(m) - min(m)) / 2 / st['median'] * 100:.0f}%"


def med(st):
    return None if st is None else st["median"]


def fit(points):
    """Least-squares slope and intercept of (x, y) points; None below two distinct x."""
    pts = [(x, y) for x, y in points if y is not None]
    if len({x for x, _ in pts}) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return slope, my - slope * mx


def report(data, out):
    meta = {}
    with open(os.path.join(data, "meta")) as f:
        for line in f:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                meta[k] = meta[k] + "\n" + v if k in meta else v
    ns = [int(x) for x in meta["ns"].split()]
    pm2 = meta.get("pm2_version", "") not in ("", "none")
    S = lambda key: load(data, key)
    L = []
    w = L.append
    w("# Benchmarks: tsm vs pm2 vs the physical floor")
    w("")
    w(f"Generated by `benches/bench.sh` ({meta['mode']} run) on {meta['date']}; "
      f"it took {meta['duration']}. Regenerate with `benches/bench.sh` "
      "(or `BENCH_QUICK=1 benches/bench.sh`).")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| tsm | `{meta['commit']}` ({meta['source']}), release build |")
    w(f"| pm2 | {meta.get('pm2_version', 'none')} (npm, temp prefix, own `PM2_HOME`) |")
    w(f"| node | {meta.get('node_version', 'none')} |")
    w(f"| timing | {meta['timer']} |")
    w(f"| CPU | {meta['cpu']} ({meta['nproc']} cores, `nproc`) |")
    w(f"| kernel | {meta['kernel']} |")
    w(f"| load average | start {meta['load_start']}; end {meta['load_end']} |")
    w(f"| rounds | {meta['rounds']} rounds (`stop`: {meta['stop_rounds']}) × {meta['runs']} runs "
      f"of tsm and floor, {meta['pm2_runs']} of pm2 per round (at N ≥ 1000: 1, in the first 3 "
      f"rounds); N = {meta['ns']} |")
    w("")
    w("```")
    w("$ free -h")
    w(meta["free"])
    w("```")
    w("")
    w("Figures are medians over all runs of all rounds; the three tools are measured in the "
      "same run, alternating in rotating order, round after round. *spread* is half the range of "
      "the per-round medians of tsm, relative to its median: the noise of this 2-core machine, "
      "where other builds may run at the same time. `tsm/floor` is how far tsm is above the "
      "physical floor; `pm2/tsm` how many times faster tsm is than pm2.")
    w("")
    notes = [ln.strip() for ln in open(os.path.join(data, "notes")) if ln.strip()]
    fails = []
    if os.path.exists(os.path.join(data, "failures")):
        fails = [ln.strip() for ln in open(os.path.join(data, "failures")) if ln.strip()]

    # ---- list
    w("## list")
    w("")
    w("`tsm-native list` (table) and `list --json` against `pm2 jlist`. Floor: one `cat` of the "
      "N meta files (`$TETRA_DIR/tsm/processes/*.meta`, names expanded beforehand).")
    w("")
    w("| N | tsm list | tsm list --json | floor (cat) | pm2 jlist | tsm/floor | pm2/tsm | spread |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        t, j, f, p = (S(f"list.tsm.{n}"), S(f"listjson.tsm.{n}"), S(f"list.floor.{n}"),
                      S(f"list.pm2.{n}"))
        w(f"| {n} | {fmt_t(med(t))} | {fmt_t(med(j))} | {fmt_t(med(f))} | {fmt_t(med(p))} | "
          f"{ratio(med(t), med(f))} | {ratio(med(p), med(t))} | {spread(t)} |")
    w("")

    # ---- start one
    w("## start one service")
    w("")
    w("`tsm-native start --port P svc.sh one` (returns once the service has been exec'd) against "
      "`pm2 start sleep --name one -- 100000`, with N other services running; hyperfine's "
      "`--prepare` deletes the service before each run. Floor: `setsid -f sleep 86399` (one "
      "exec of a small C program that forks a detached child, which execs `sleep`; the parent "
      "returns at once).")
    w("")
    w("| N | tsm | floor (setsid -f sleep) | pm2 | tsm/floor | pm2/tsm | spread |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        t, f, p = S(f"start1.tsm.{n}"), S(f"start1.floor.{n}"), S(f"start1.pm2.{n}")
        w(f"| {n} | {fmt_t(med(t))} | {fmt_t(med(f))} | {fmt_t(med(p))} | "
          f"{ratio(med(t), med(f))} | {ratio(med(p), med(t))} | {spread(t)} |")
    w("")

    # ---- start N
    def totals(tool):
        # Services of a level that were started through an ecosystem file are counted at the
        # mean of the previous level's median call and this level's (a call costs more the
        # more services there are, about linearly).
        res, acc, approx, prev_med = {}, 0.0, False, None
        for n in ns:
            st = S(f"startN.{tool}.{n}")
            eco = 0
            ep = os.path.join(data, f"startN.{tool}.{n}.eco")
            if os.path.exists(ep):
                eco = int(open(ep).read().strip() or 0)
            if st:
                low = prev_med if prev_med is not None else st["median"]
                acc += sum(st["all"]) + eco * (low + st["median"]) / 2
                prev_med = st["median"]
            approx = approx or eco > 0
            res[n] = (acc if (st or n == 0) else None, approx, st)
        return res
    tt, ft, pt = totals("tsm"), totals("floor"), totals("pm2")
    w("## start N services, one CLI call each")
    w("")
    w("Services are added level by level (0 → 10 → 100 → …), one `start` call each, timed "
      "one by one; the total for N sums all calls up to N. *per call* is the median call "
      "while going up to that level. Floor: `setsid -f sleep` once per service.")
    if pm2:
        w(f"pm2: per level, at most {meta['pm2_cli_max']} services (up to 100) or "
          f"{meta['pm2_cli_max_big']} (above) are started one `pm2 start` call each (timed); "
          "the rest of the level is started first through one ecosystem file, and its share "
          "of the total is estimated at the mean of the previous level's median call and this "
          "level's (marked ≈).")
    w("")
    w("| N | tsm total | tsm per call | floor total | pm2 total | pm2 per call | "
      "tsm/floor | pm2/tsm |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        if n == 0:
            continue
        ta, _, ts = tt[n]
        fa, _, _ = ft[n]
        pa, papprox, ps = pt[n]
        mark = "≈ " if papprox else ""
        w(f"| {n} | {fmt_t(ta)} | {fmt_t(med(ts))} | {fmt_t(fa)} | "
          f"{mark + fmt_t(pa) if pa is not None else '—'} | {fmt_t(med(ps))} | "
          f"{ratio(ta, fa)} | {ratio(pa, ta)} |")
    w("")

    # ---- stop
    w("## stop '*'")
    w("")
    w("`tsm-native stop '*'` against `pm2 stop all`, all N services running `sleep` (which ends "
      "on SIGTERM/SIGINT); after each timed stop everything is started again, untimed "
      "(`tsm restart '*'`, `pm2 restart all`). Floor: `kill -TERM` of N sleeping processes "
      "(one exec of `kill`) and reaping all of them (python3 `wait`).")
    w("")
    w("| N | tsm | floor (kill + reap) | pm2 | tsm/floor | pm2/tsm | spread | rounds tsm/pm2 |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        t, f, p = S(f"stop.tsm.{n}"), S(f"stop.floor.{n}"), S(f"stop.pm2.{n}")
        rt = t["rounds"] if t else 0
        rp = p["rounds"] if p else 0
        w(f"| {n} | {fmt_t(med(t))} | {fmt_t(med(f))} | {fmt_t(med(p))} | "
          f"{ratio(med(t), med(f))} | {ratio(med(p), med(t))} | {spread(t)} | {rt}/{rp} |")
    dt, dp = S(f"delete.tsm.{ns[-1]}"), S(f"delete.pm2.{ns[-1]}")
    if dt or dp:
        w("")
        w(f"At the end, deleting all {ns[-1]} services took {fmt_t(med(dt))} with "
          f"`tsm-native delete '*'` and {fmt_t(med(dp))} with `pm2 delete all` (one call each).")
    w("")

    # ---- restart
    w("## restart one service")
    w("")
    w("`tsm-native restart s0-20000` against `pm2 restart p0`, with N services running. "
      "Floor: `kill -TERM` of one sleeping child (exec of `kill`), reaping it, and spawning a "
      "new `sleep` (python3 `subprocess`).")
    w("")
    w("| N | tsm | floor (kill + reap + spawn) | pm2 | tsm/floor | pm2/tsm | spread |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        if n == 0:
            continue
        t, f, p = S(f"restart.tsm.{n}"), S(f"restart.floor.{n}"), S(f"restart.pm2.{n}")
        w(f"| {n} | {fmt_t(med(t))} | {fmt_t(med(f))} | {fmt_t(med(p))} | "
          f"{ratio(med(t), med(f))} | {ratio(med(p), med(t))} | {spread(t)} |")
    w("")

    # ---- memory
    memrows = {}
    mp = os.path.join(data, "mem")
    if os.path.exists(mp):
        for line in open(mp):
            parts = line.split()
            if len(parts) == 6:
                memrows[int(parts[0])] = [int(x) for x in parts[1:]]
    w("## memory of the managers")
    w("")
    w("Sum of PSS (and RSS) from `/proc/PID/smaps_rollup` over every `tsm-native supervise` "
      "process, against the pm2 God Daemon (pid from `$PM2_HOME/pm2.pid`). The services "
      "themselves (`sleep`) are not counted for either.")
    w("")
    w("| N | tsm supervisors | tsm PSS sum | tsm RSS sum | tsm PSS per service | pm2 daemon PSS | "
      "pm2 daemon RSS | pm2 PSS / tsm PSS |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        if n not in memrows:
            continue
        cnt, pss, rss, ppss, prss = memrows[n]
        per = fmt_kb(pss / cnt) if cnt else "—"
        w(f"| {n} | {cnt} | {fmt_kb(pss)} | {fmt_kb(rss)} | {per} | "
          f"{fmt_kb(ppss) if pm2 else '—'} | {fmt_kb(prss) if pm2 else '—'} | "
          f"{ratio(ppss, pss) if pm2 and pss else '—'} |")
    if "pm2_after_delete" in meta:
        n, ppss, prss = meta["pm2_after_delete"].split()
        w("")
        w(f"pm2 daemon after `pm2 delete all` (from {n} services): RSS {fmt_kb(int(prss))}, "
          f"PSS {fmt_kb(int(ppss))}. tsm has no process left once its services are deleted.")
    w("")

    # ---- logs
    w("## logs --lines 50 --nostream on a 100k-line log")
    w("")
    t, f, p = S("logs.tsm.0"), S("logs.floor.0"), S("logs.pm2.0")
    w(f"One service wrote {meta.get('log_lines', '?')} lines to its stdout log. tsm: "
      "`tsm-native logs NAME --lines 50 --nostream`; pm2: `pm2 logs NAME --lines 50 "
      "--nostream`; floor: `tail -n 50` of the log file.")
    w("")
    w("| tsm | floor (tail -n 50) | pm2 | tsm/floor | pm2/tsm |")
    w("|---:|---:|---:|---:|---:|")
    w(f"| {fmt_t(med(t)) if t else 'skipped'} | {fmt_t(med(f))} | {fmt_t(med(p))} | "
      f"{ratio(med(t), med(f))} | {ratio(med(p), med(t))} |")
    w("")

    # ---- slopes
    w("## per-service cost (least-squares slope over N)")
    w("")
    w("| what | tsm | floor | pm2 |")
    w("|---|---:|---:|---:|")

    def slope_t(key):
        r = fit([(n, med(S(key.format(n=n)))) for n in ns])
        return "—" if r is None else fmt_t(r[0]) + "/service"
    w(f"| list (table), per listed service | {slope_t('list.tsm.{n}')} | "
      f"{slope_t('list.floor.{n}')} | {slope_t('list.pm2.{n}')} |")
    w(f"| list --json, per listed service | {slope_t('listjson.tsm.{n}')} | — | — |")
    w(f"| start one, per service already running | {slope_t('start1.tsm.{n}')} | "
      f"{slope_t('start1.floor.{n}')} | {slope_t('start1.pm2.{n}')} |")

    def slope_total(res):
        r = fit([(n, res[n][0]) for n in ns if res[n][0] is not None])
        return "—" if r is None else fmt_t(r[0]) + "/service"
    w(f"| start N (total of N calls), per service | {slope_total(tt)} | {slope_total(ft)} | "
      f"{slope_total(pt)} |")
    w(f"| stop '*', per service | {slope_t('stop.tsm.{n}')} | {slope_t('stop.floor.{n}')} | "
      f"{slope_t('stop.pm2.{n}')} |")

    def slope_mem(i):
        r = fit([(n, memrows[n][i]) for n in ns if n in memrows])
        return "—" if r is None else f"{r[0]:.0f} kB/service"
    w(f"| memory (PSS), per service | {slope_mem(1)} | — | "
      f"{slope_mem(3) if pm2 else '—'} |")
    w(f"| memory (RSS), per service | {slope_mem(2)} | — | "
      f"{slope_mem(4) if pm2 else '—'} |")
    w("")

    # ---- goals
    w("## goals")
    w("")
    w("| goal | measured | verdict |")
    w("|---|---|---|")
    goals = []

    def goal(text, value, ok):
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        goals.append((text, verdict))
        w(f"| {text} | {value} | **{verdict}** |")
    lt, lf, lp = med(S("list.tsm.100")), med(S("list.floor.100")), med(S("list.pm2.100"))
    goal("`tsm list` at 100 services ≤ 2× the `cat` floor",
         f"{fmt_t(lt)} vs {fmt_t(lf)}: {ratio(lt, lf)}" if lt and lf else "not measured",
         None if not (lt and lf) else lt <= 2 * lf)
    goal("`tsm list` at 100 services ≥ 40× faster than `pm2 jlist`",
         f"{fmt_t(lp)} / {fmt_t(lt)} = {ratio(lp, lt)}" if lt and lp else "not measured",
         None if not (lt and lp) else lp / lt >= 40)
    l1k, f1k = med(S("list.tsm.1000")), med(S("list.floor.1000"))
    goal("`tsm list` at 1,000 services < 30 ms",
         f"{fmt_t(l1k)} (the `cat` floor: {fmt_t(f1k)})" if l1k else "not measured",
         None if l1k is None else l1k < 0.030)
    first = ns[0]
    s1 = med(S(f"start1.tsm.{first}"))
    p1 = med(S(f"start1.pm2.{first}"))
    others = "; ".join(f"N={n}: {fmt_t(med(S(f'start1.tsm.{n}')))}" for n in ns[1:])
    goal(f"`tsm start` of one service ≤ 5 ms (N={first})",
         (fmt_t(s1) + (f" (other N: {others})" if others else "")) if s1 else "not measured",
         None if s1 is None else s1 <= 0.005)
    goal(f"`tsm start` of one service ≥ 40× faster than `pm2 start` (N={first})",
         f"{fmt_t(p1)} / {fmt_t(s1)} = {ratio(p1, s1)}" if s1 and p1 else "not measured",
         None if not (s1 and p1) else p1 / s1 >= 40)
    st100 = med(S("stop.tsm.100"))
    goal("`tsm stop '*'` at 100 services ≤ 0.3 s", fmt_t(st100) if st100 else "not measured",
         None if st100 is None else st100 <= 0.3)
    rns = [n for n in ns if n > 0]
    rfirst = rns[0] if rns else None
    r1 = med(S(f"restart.tsm.{rfirst}")) if rfirst else None
    others = "; ".join(f"N={n}: {fmt_t(med(S(f'restart.tsm.{n}')))}" for n in rns[1:])
    goal(f"`tsm restart` of one service ≤ 30 ms (N={rfirst})",
         (fmt_t(r1) + (f" (other N: {others})" if others else "")) if r1 else "not measured",
         None if r1 is None else r1 <= 0.030)
    m100 = memrows.get(100)
    goal("sum of supervisor PSS at 100 services ≤ 20 MB",
         fmt_kb(m100[1]) if m100 else "not measured",
         None if m100 is None else m100[1] <= 20 * 1024)
    w("")

    w("## notes")
    w("")
    for n in notes:
        w(f"* {n}")
    for f in fails:
        k, c = f.split("\t")
        w(f"* {c} timed runs of `{k}` exited non-zero.")
    w(f"* {meta.get('clean', 'cleanup not checked')}")
    w("")
    text = "\n".join(L)
    # Keep what other scripts wrote after this run's sections: the hand-run watch and reload
    # sections (benches/watch.py, reload.py) and the section benches/resources.sh appends.
    marks = ["<!-- not generated by bench.sh -->", "<!-- benches/resources.sh -->"]
    if os.path.exists(out):
        with open(out) as f:
            old = f.read()
        kept = [old.index(m) for m in marks if m in old]
        if kept:
            text += "\n" + old[min(kept):]
    with open(out, "w") as f:
        f.write(text)
    print(text, end="")
    print("", file=sys.stderr)
    for g, v in goals:
        print(f"goal: {v:4}  {g}", file=sys.stderr)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "hfjson":
        hfjson(*args)
    elif cmd == "timeloop":
        runs, rnd, key, data, warm, prepare = args[:6]
        timeloop(runs, rnd, key, data, warm, prepare, args[6:])
    elif cmd == "floor-stop":
        floor_stop(*args)
    elif cmd == "floor-restart":
        floor_restart(*args)
    elif cmd == "killfloor":
        killfloor(*args)
    elif cmd == "leftovers":
        leftovers(args[0], kill="--kill" in args)
    elif cmd == "mem":
        mem(*args)
    elif cmd == "online":
        count_online(*args)
    elif cmd == "ecosystem":
        ecosystem(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(f"helper: unknown command {cmd}")
PY

META=$DATA/meta
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# Only render the report again from the samples of a run kept with BENCH_KEEP=1.
if [[ -n ${BENCH_REPORT_FROM:-} ]]; then
    py report "$BENCH_REPORT_FROM/data" "$OUT"
    say "wrote $OUT from $BENCH_REPORT_FROM"
    exit 0
fi

# ---------------------------------------------------------------- build tsm
say "building tsm (cargo build --release, source: $SOURCE)"
commit=$(git -C "$REPO" rev-parse --short=12 HEAD)
build_head() {
    # A commit ($REV, HEAD by default), untouched by uncommitted work in this checkout. Only
    # changed files are copied over, so that cargo's fingerprints keep the incremental build.
    local head_dir=$REPO/target/bench-head
    commit=$(git -C "$REPO" rev-parse --short=12 "$REV^{commit}") || return 1
    rm -rf "$WORK/head"
    mkdir -p "$head_dir/src" "$WORK/head"
    git -C "$REPO" archive "$commit" | tar -x -C "$WORK/head" || return 1
    (cd "$head_dir/src" && find . -type f -print0) | while IFS= read -r -d '' f; do
        if [[ ! -e $WORK/head/$f ]]; then rm -f "$head_dir/src/$f"; fi
    done
    (cd "$WORK/head" && find . -type f -print0) | while IFS= read -r -d '' f; do
        if ! cmp -s "$WORK/head/$f" "$head_dir/src/$f"; then
            mkdir -p "$(dirname "$head_dir/src/$f")"
            cp "$WORK/head/$f" "$head_dir/src/$f"
        fi
    done
    (cd "$head_dir/src" && CARGO_TARGET_DIR=$head_dir/target cargo build --release --quiet) || return 1
    cp "$head_dir/target/release/tsm-native" "$TSM" || return 1
    meta source "commit $commit alone (git archive)"
}
if [[ $SOURCE == head ]]; then
    if ! build_head; then
        echo "bench: $REV does not build: pick a commit that does with BENCH_REV=..." >&2
        exit 1
    fi
elif (cd "$REPO" && cargo build --release --quiet) 2>"$WORK/build.log"; then
    # A private copy: the supervisors run this binary, which a concurrent rebuild cannot touch.
    cp "$REPO/target/release/tsm-native" "$TSM"
    if [[ -n $(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock) ]]; then
        meta source "working tree, with uncommitted changes in src/"
        note "tsm was built from the working tree of $commit with uncommitted changes in src/ (set BENCH_SOURCE=head to build the commit alone)."
    else
        meta source "working tree = HEAD"
    fi
else
    say "the working tree does not build ($(grep -m1 '^error' "$WORK/build.log" || true)): building $REV alone"
    if ! build_head; then
        echo "bench: neither the working tree nor $REV builds: pick a commit that does with BENCH_SOURCE=head BENCH_REV=..." >&2
        exit 1
    fi
    note "the working tree did not build, so tsm was built from commit $commit alone."
fi
meta commit "$commit"

# ---------------------------------------------------------------- limits
# Each service is a sleep plus a supervisor for tsm, a sleep for pm2, and the floors spawn up
# to N sleeps: make sure the process limits leave room for that.
running=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
need=$((running + 4 * MAX_N + 300))
soft=$(ulimit -u)
if [[ $soft != unlimited ]] && ((soft < need)); then
    hard=$(ulimit -H -u)
    if [[ $hard == unlimited ]] || ((hard >= need)); then
        ulimit -u "$need"
    else
        ulimit -u "$hard"
    fi
fi
pid_max=$(</proc/sys/kernel/pid_max)
soft=$(ulimit -u)
keep=()
for n in $NS; do
    want=$((running + 4 * n + 300))
    if { [[ $soft == unlimited ]] || ((want <= soft)); } && ((want <= pid_max)); then
        keep+=("$n")
    else
        note "N=$n left out: it needs about $want processes (ulimit -u $soft, pid_max $pid_max)."
    fi
done
NS=${keep[*]}
MAX_N=${keep[-1]}
nofile_hard=$(ulimit -H -n)
if [[ $nofile_hard == unlimited ]] || ((nofile_hard >= 65536)); then ulimit -n 65536; else ulimit -n "$nofile_hard"; fi
meta ns "$NS"

# ---------------------------------------------------------------- pm2
if [[ ${BENCH_NO_PM2:-0} == 1 ]]; then
    note "pm2 was left out (BENCH_NO_PM2=1): its columns are empty."
elif ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    note "npm or node is not installed: pm2 was left out and its columns are empty."
else
    version=$PM2_VERSION_WANTED
    if [[ -z $(npm view "pm2@$version" version 2>/dev/null) ]]; then
        version=$(npm view pm2 version 2>/dev/null || true)
        note "pm2 $PM2_VERSION_WANTED is not on the npm registry: using the newest, ${version:-none}."
    fi
    say "installing pm2@$version into $WORK/npm"
    if [[ -n $version ]] && npm install --prefix "$WORK/npm" "pm2@$version" --no-audit --no-fund \
        --loglevel=error >"$WORK/npm.log" 2>&1; then
        PM2=$WORK/npm/node_modules/.bin/pm2
        mkdir -p "$PM2_HOME"
        meta pm2_version "$(node -p "require('$WORK/npm/node_modules/pm2/package.json').version")"
        meta node_version "$(node --version)"
    else
        note "npm install of pm2@$version failed: pm2 was left out ($(tail -n 1 "$WORK/npm.log"))."
    fi
fi
[[ -n $PM2 ]] || meta pm2_version none

# ---------------------------------------------------------------- timing
if command -v hyperfine >/dev/null; then
    HAVE_HF=1
    meta timer "hyperfine $(hyperfine --version | cut -d' ' -f2) with -N (no shell), plus bash \$EPOCHREALTIME around single calls"
else
    HAVE_HF=0
    meta timer "python3 perf_counter loop (hyperfine not installed), plus bash \$EPOCHREALTIME around single calls"
    note "hyperfine is not installed: a python3 timing loop was used instead."
fi

# measure KEY ROUND RUNS WARMUP PREPARE CMD...: appends "ROUND SECONDS" lines to $DATA/KEY.
measure() {
    local key=$1 round=$2 runs=$3 warm=$4 prepare=$5
    shift 5
    if [[ $HAVE_HF == 1 ]]; then
        local args=(-N -i --style none --runs "$runs" --export-json "$WORK/hf.json")
        if ((warm > 0)); then args+=(--warmup "$warm"); fi
        if [[ -n $prepare ]]; then args+=(--prepare "$prepare"); fi
        hyperfine "${args[@]}" "$*" >>"$WORK/hyperfine.log" 2>&1
        py hfjson "$WORK/hf.json" "$round" "$key" "$DATA" >>"$DATA/$key"
    else
        py timeloop "$runs" "$round" "$key" "$DATA" "$warm" "$prepare" "$@" >>"$DATA/$key"
    fi
}

# timed KEY ROUND CMD...: one call timed with $EPOCHREALTIME (its output is dropped).
timed() {
    local key=$1 round=$2 t0 t1
    shift 2
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || true
    t1=$EPOCHREALTIME
    printf '%s %d.%06d\n' "$round" "$(((${t1/./} - ${t0/./}) / 1000000))" "$(((${t1/./} - ${t0/./}) % 1000000))" >>"$DATA/$key"
}

# Rotates the three tools so that none always goes first.
order() {
    case $(($1 % 3)) in
        0) echo "tsm floor pm2" ;;
        1) echo "floor pm2 tsm" ;;
        *) echo "pm2 tsm floor" ;;
    esac
}

pm2_runs() { if (($1 >= 1000)); then echo 1; else echo "$PM2_RUNS"; fi; }
# pm2 takes part in every round, but only in the first 3 at N >= 1000 (a call takes seconds).
pm2_in() { (($1 < 1000 || $2 < 3)); }

# ---------------------------------------------------------------- services and helpers
SVC=$WORK/svc.sh
printf '#!/bin/sh\nexec sleep 100000\n' >"$SVC"
LOGSVC=$WORK/logsvc.sh
cat >"$LOGSVC" <<EOF
#!/bin/sh
awk 'BEGIN { for (i = 1; i <= $LOG_LINES; i++) printf "2025-01-01T12:00:00Z INFO request %d served in 3 ms path=/api/items status=200\\n", i }'
exec sleep 100000
EOF
chmod +x "$SVC" "$LOGSVC"
ln -s "$(command -v sleep)" "$FLOOR_SLEEP"
printf '#!/bin/sh\n"%s" delete one-%s >/dev/null 2>&1 || true\n' "$TSM" "$ONE_PORT" >"$BIN/tsm-del-one"
printf '#!/bin/sh\n"%s" delete one >/dev/null 2>&1 || true\n' "${PM2:-true}" >"$BIN/pm2-del-one"
printf '#!/bin/sh\nexec "%s" -S "%s" killfloor "%s"\n' "$PY" "$HELPER" "$FLOOR_SLEEP" >"$BIN/floor-kill"
chmod +x "$BIN/tsm-del-one" "$BIN/pm2-del-one" "$BIN/floor-kill"
meta log_lines "$LOG_LINES"

tsm_online() { "$TSM" list --json 2>/dev/null | py online tsm; }
pm2_online() { "$PM2" jlist 2>/dev/null | py online pm2; }

meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n $PM2 ]]; then "$PM2" ping >/dev/null 2>&1 || true; fi # start the God Daemon

# ---------------------------------------------------------------- tsm beside OxMgr and pm2
peers() { # OUT
    local ns=${BENCH_PEERS_NS:-"10 100 1000 10000"}
    say "tsm beside OxMgr ($OXMGR) and pm2, N = $ns"
    "$PY" "$REPO/benches/peers.py" --tsm "$TSM" --oxmgr "$OXMGR" ${PM2:+--pm2 "$PM2"} \
        --ns "${ns// /,}" --out "$1" >/dev/null
}
if [[ -n ${OXMGR:-} && ${BENCH_PEERS_ONLY:-0} == 1 ]]; then
    [[ -x $OXMGR ]] || { echo "bench: OXMGR=$OXMGR is not an executable" >&2; exit 66; }
    peers "$OUT"
    say "wrote the OxMgr section of $OUT"
    teardown
    CLEANED=1
    exit 0
fi

# ---------------------------------------------------------------- case: logs
say "case logs: one service with a $LOG_LINES-line log"
if "$TSM" logs --help >/dev/null 2>&1; then HAVE_LOGS=1; else HAVE_LOGS=0; fi
"$TSM" start --port "$LOG_PORT" "$LOGSVC" biglog >/dev/null
tsm_log=$TETRA_DIR/tsm/logs/biglog-$LOG_PORT.out
if [[ -n $PM2 ]]; then
    "$PM2" start "$LOGSVC" --name biglog >/dev/null 2>&1
    pm2_log=$PM2_HOME/logs/biglog-out.log
fi
wait_lines() {
    local file=$1 i
    for ((i = 0; i < 300; i++)); do
        if [[ -f $file ]] && (($(wc -l <"$file") >= LOG_LINES)); then return 0; fi
        sleep 0.1
    done
    note "$file did not reach $LOG_LINES lines in 30 s."
}
wait_lines "$tsm_log"
if [[ -n $PM2 ]]; then wait_lines "$pm2_log"; fi
if [[ $HAVE_LOGS == 0 ]]; then
    note "\`tsm-native logs\` does not exist in this build (\`tsm-native logs --help\` fails): its logs figures are skipped."
fi
for ((r = 0; r < ROUNDS; r++)); do
    for tool in $(order "$r"); do
        case $tool in
            tsm) if [[ $HAVE_LOGS == 1 ]]; then
                measure logs.tsm.0 "$r" "$RUNS" 1 "" "$TSM" logs "biglog-$LOG_PORT" --lines 50 --nostream
            fi ;;
            floor) measure logs.floor.0 "$r" "$RUNS" 1 "" tail -n 50 "$tsm_log" ;;
            pm2) if [[ -n $PM2 ]]; then
                measure logs.pm2.0 "$r" "$PM2_RUNS" 0 "" "$PM2" logs biglog --lines 50 --nostream
            fi ;;
        esac
    done
done
"$TSM" delete "biglog-$LOG_PORT" >/dev/null
if [[ -n $PM2 ]]; then "$PM2" delete biglog >/dev/null 2>&1; fi

# ---------------------------------------------------------------- the levels
grow_tsm() { # FROM TO
    local i
    for ((i = $1; i < $2; i++)); do
        timed "startN.tsm.$2" 0 "$TSM" start --port "$((BASE_PORT + i))" "$SVC" "s$i"
    done
}
grow_floor() { # FROM TO
    local i
    for ((i = $1; i < $2; i++)); do
        timed "startN.floor.$2" 0 setsid -f "$FLOOR_SLEEP" 86399
    done
    py killfloor "$FLOOR_SLEEP"
}
grow_pm2() { # FROM TO
    local from=$1 to=$2 cap eco i
    cap=$PM2_CLI_MAX
    if ((to > 100)); then cap=$PM2_CLI_MAX_BIG; fi
    eco=$((to - from - cap))
    if ((eco > 0)); then
        py ecosystem "$WORK/eco-$to.config.js" "$from" "$eco"
        "$PM2" start "$WORK/eco-$to.config.js" >/dev/null 2>&1
        echo "$eco" >"$DATA/startN.pm2.$to.eco"
        from=$((from + eco))
    fi
    for ((i = from; i < to; i++)); do
        timed "startN.pm2.$to" 0 "$PM2" start sleep --name "p$i" -- 100000
    done
}

prev=0
level=0
for N in $NS; do
    say "N=$N: starting services $prev..$((N - 1)) (one CLI call each)"
    for tool in $(order "$level"); do
        case $tool in
            tsm) grow_tsm "$prev" "$N" ;;
            floor) grow_floor "$prev" "$N" ;;
            pm2) if [[ -n $PM2 ]]; then grow_pm2 "$prev" "$N"; fi ;;
        esac
    done
    prev=$N
    sleep 1
    got=$(tsm_online)
    ((got == N)) || note "N=$N: tsm shows $got services online, not $N."
    if [[ -n $PM2 ]]; then
        got=$(pm2_online)
        ((got == N)) || note "N=$N: pm2 shows $got services online, not $N."
    fi

    say "N=$N: memory"
    echo "$N $(py mem "$TSM" "$(pm2_daemon_pid)")" >>"$DATA/mem"

    say "N=$N: list"
    metas=()
    if ((N > 0)); then metas=("$TETRA_DIR"/tsm/processes/*.meta); fi
    for ((r = 0; r < ROUNDS; r++)); do
        for tool in $(order "$r"); do
            case $tool in
                tsm)
                    measure "list.tsm.$N" "$r" "$RUNS" 1 "" "$TSM" list
                    measure "listjson.tsm.$N" "$r" "$RUNS" 1 "" "$TSM" list --json
                    ;;
                floor) measure "list.floor.$N" "$r" "$RUNS" 1 "" cat /dev/null "${metas[@]}" ;;
                pm2) if [[ -n $PM2 ]] && pm2_in "$N" "$r"; then
                    measure "list.pm2.$N" "$r" "$(pm2_runs "$N")" 0 "" "$PM2" jlist
                fi ;;
            esac
        done
    done

    say "N=$N: start one"
    for ((r = 0; r < ROUNDS; r++)); do
        for tool in $(order "$r"); do
            case $tool in
                tsm)
                    measure "start1.tsm.$N" "$r" "$RUNS" 1 "$BIN/tsm-del-one" \
                        "$TSM" start --port "$ONE_PORT" "$SVC" one
                    "$BIN/tsm-del-one"
                    ;;
                floor)
                    measure "start1.floor.$N" "$r" "$RUNS" 1 "" setsid -f "$FLOOR_SLEEP" 86399
                    "$BIN/floor-kill"
                    ;;
                pm2) if [[ -n $PM2 ]] && pm2_in "$N" "$r"; then
                    measure "start1.pm2.$N" "$r" "$(pm2_runs "$N")" 0 "$BIN/pm2-del-one" \
                        "$PM2" start sleep --name one -- 100000
                    "$BIN/pm2-del-one"
                fi ;;
            esac
        done
    done

    if ((N > 0)); then
        say "N=$N: restart one"
        for ((r = 0; r < ROUNDS; r++)); do
            for tool in $(order "$r"); do
                case $tool in
                    tsm) measure "restart.tsm.$N" "$r" "$RUNS" 1 "" "$TSM" restart "s0-$BASE_PORT" ;;
                    floor) py floor-restart "$RUNS" "$r" "$FLOOR_SLEEP" >>"$DATA/restart.floor.$N" ;;
                    pm2) if [[ -n $PM2 ]] && pm2_in "$N" "$r"; then
                        measure "restart.pm2.$N" "$r" "$(pm2_runs "$N")" 0 "" "$PM2" restart p0
                    fi ;;
                esac
            done
        done
    fi

    say "N=$N: stop '*'"
    last=0
    if ((N == MAX_N)); then last=1; fi
    tsm_rounds=$STOP_ROUNDS
    pm2_rounds=$STOP_ROUNDS
    if ((N >= 1000)); then
        tsm_rounds=$((STOP_ROUNDS < 2 ? STOP_ROUNDS : 2))
        pm2_rounds=1
    fi
    for ((r = 0; r < STOP_ROUNDS; r++)); do
        for tool in $(order "$r"); do
            case $tool in
                tsm) if ((r < tsm_rounds)); then
                    timed "stop.tsm.$N" "$r" "$TSM" stop '*'
                    if ((last == 0 || r + 1 < tsm_rounds)); then "$TSM" restart '*' >/dev/null 2>&1 || true; fi
                fi ;;
                floor) py floor-stop "$N" "$r" "$FLOOR_SLEEP" >>"$DATA/stop.floor.$N" ;;
                pm2) if [[ -n $PM2 ]] && ((r < pm2_rounds)); then
                    timed "stop.pm2.$N" "$r" "$PM2" stop all
                    if ((last == 0 || r + 1 < pm2_rounds)); then "$PM2" restart all >/dev/null 2>&1 || true; fi
                fi ;;
            esac
        done
    done
    if ((last == 0)); then
        got=$(tsm_online)
        ((got == N)) || note "N=$N: after the stop case tsm shows $got services online, not $N."
        if [[ -n $PM2 ]]; then
            got=$(pm2_online)
            ((got == N)) || note "N=$N: after the stop case pm2 shows $got services online, not $N."
        fi
    fi
    level=$((level + 1))
done

# ---------------------------------------------------------------- teardown and report
say "deleting everything"
if [[ -n $PM2 ]]; then
    timed "delete.pm2.$MAX_N" 0 "$PM2" delete all
    sleep 1
    read -r _ _ _ ppss prss <<<"$(py mem "$TSM" "$(pm2_daemon_pid)")"
    meta pm2_after_delete "$MAX_N $ppss $prss"
fi
timed "delete.tsm.$MAX_N" 0 "$TSM" delete '*'
teardown
sleep 1
if verify_clean; then
    meta clean "After the run: no \`sleep\` service, tsm supervisor or pm2 daemon of this run was left (checked in /proc)."
else
    meta clean "After the run some processes of this run were still there and were killed (see the run's output)."
fi
CLEANED=1

meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta mode "$([[ $QUICK == 1 ]] && echo quick || echo full)"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta duration "$(((SECONDS - BENCH_T0) / 60)) min $(((SECONDS - BENCH_T0) % 60)) s"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta kernel "$(uname -r)"
while IFS= read -r line; do meta free "$line"; done < <(free -h)
meta rounds "$ROUNDS"
meta stop_rounds "$STOP_ROUNDS"
meta runs "$RUNS"
meta pm2_runs "$PM2_RUNS"
meta pm2_cli_max "$PM2_CLI_MAX"
meta pm2_cli_max_big "$PM2_CLI_MAX_BIG"
py report "$DATA" "$OUT"
if [[ -n ${OXMGR:-} ]]; then peers "$OUT"; fi
say "wrote $OUT"
