#!/usr/bin/env bash
# benches/resources.sh: what the resource features cost, measured on this machine.
#
#   benches/resources.sh        list (with its cpu/mem columns) at 100 and 1,000 services
#                               against `cat` of their meta files; `tsm monit`'s CPU at 100
#                               services (and `pm2 monit`'s with PM2 set);
#                               supervisor wake-ups and CPU with and without a memory limit;
#                               PSS per supervisor at 100 and 1,000 services.
#
# It builds tsm (`cargo build --release`), runs every case in its own TETRA_DIR, stops all it
# started, and writes its section at the end of docs/benchmarks.md (after the marker below; a
# run of benches/bench.sh keeps that section). Environment: RES_NS="100 1000", RES_RUNS=40
# (timed runs per command), RES_SECS=30 (seconds of each CPU sample), PM2=/path/to/pm2
# (optional: also `pm2 monit` at the same N, e.g. after `npm install --prefix /tmp/pm2 pm2@7`,
# with its own PM2_HOME in the temp folder).
set -Eeuo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NS=${RES_NS:-"100 1000"}
RUNS=${RES_RUNS:-40}
SECS=${RES_SECS:-30}
MARK="<!-- benches/resources.sh -->"
OUT=$REPO/docs/benchmarks.md
TSM=$REPO/target/release/tsm-native
WORK=$(mktemp -d /tmp/tsm-res.XXXXXX)
export TETRA_DIR=$WORK/tetra
SOCK=$WORK/tmux.sock
export PM2_HOME=$WORK/pm2-home
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    if [[ -n ${PM2:-} ]]; then "$PM2" kill >/dev/null 2>&1 || true; fi
    "$TSM" delete '*' --kill-timeout 200ms >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '[res] %s\n' "$*" >&2; }
(cd "$REPO" && cargo build --release --quiet)
REPORT=$WORK/report.md

# Nanoseconds on a CPU (the first field of /proc/PID/schedstat) of the given pids, summed.
cpu_ns() { local p s=0; for p in "$@"; do s=$((s + $(cut -d' ' -f1 "/proc/$p/schedstat"))); done; echo "$s"; }
# Voluntary context switches (wake-ups from sleep) of the given pids, summed.
wakes() { local p s=0; for p in "$@"; do s=$((s + $(awk '/^voluntary_ctxt_switches/{print $2}' "/proc/$p/status"))); done; echo "$s"; }
supervisors() { grep -ho 'supervisor_pid=[0-9]*' "$TETRA_DIR"/tsm/processes/*.meta | cut -d= -f2; }

grow() { # TO [start args]: start sleep services up to TO
    local to=$1 i have; shift
    have=$({ find "$TETRA_DIR/tsm/processes" -name '*.meta' 2>/dev/null || true; } | wc -l)
    for ((i = have + 1; i <= to; i++)); do
        "$TSM" start --port $((20000 + i)) "$@" /bin/sleep "r$i" -- 1000000 >/dev/null
    done
}

# Median wall and mean CPU of RUNS alternating runs of `tsm list` and `cat` of the metas.
list_vs_cat() {
    python3 - "$RUNS" "$TSM" "$TETRA_DIR"/tsm/processes/*.meta <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, tsm, metas = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
cmds = {"list": [tsm, "list"], "json": [tsm, "list", "--json"], "cat": ["cat", "/dev/null"] + metas}
res = {k: ([], []) for k in cmds}
null = open(os.devnull, "w")
for _ in range(runs):
    for k, c in cmds.items():
        b = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.perf_counter()
        subprocess.run(c, stdout=null, check=True)
        t = time.perf_counter() - t; a = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[k][0].append(t * 1000)
        res[k][1].append((a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime) * 1000)
m = {k: (statistics.median(w), statistics.mean(c)) for k, (w, c) in res.items()}
print(" | ".join(f"{m[k][0]:.2f} ms ({m[k][1]:.2f})" for k in cmds),
      f"| {m['list'][0] / m['cat'][0]:.2f}× ({m['list'][1] / m['cat'][1]:.2f}×) |")
PY
}

pss_per_supervisor() {
    local s total=0 n=0
    for s in $(supervisors); do
        total=$((total + $(awk '/^Pss:/{print $2}' "/proc/$s/smaps_rollup"))); n=$((n + 1))
    done
    echo "$((total / n))"
}

{
    echo "$MARK"
    echo "## resources: cpu/mem columns, monit, memory limit, supervisor size"
    echo
    echo "Measured by \`benches/resources.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$(git -C "$REPO" rev-parse --short=12 HEAD)\`$(git -C "$REPO" diff --quiet HEAD -- src || echo ' + uncommitted changes'), release build; load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores."
    echo
    echo "### list with its cpu and mem columns"
    echo
    echo "$RUNS alternating runs each; median wall time (mean CPU time). The floor is one \`cat\` of every meta file."
    echo
    echo "| N | tsm list | tsm list --json | floor (cat) | list / floor |"
    echo "|---:|---:|---:|---:|---:|"
} >"$REPORT"
for n in $NS; do
    say "list at $n"
    grow "$n"
    echo "| $n | $(list_vs_cat)" >>"$REPORT"
    if [[ $n == "${NS%% *}" ]]; then
        say "monit at $n for ${SECS}s"
        tmux -S "$SOCK" -f /dev/null new-session -d -s m -x 200 -y 50 "TETRA_DIR=$TETRA_DIR exec $TSM monit"
        sleep 3
        mpid=$(tmux -S "$SOCK" display-message -p -t m '#{pane_pid}')
        a=$(cpu_ns "$mpid"); sleep "$SECS"; b=$(cpu_ns "$mpid")
        tmux -S "$SOCK" kill-server
        MONIT="| tsm monit | $n | $(python3 -c "print(f'{($b - $a) / 1e9 / $SECS * 100:.2f}%')") | — |"
        if [[ -n ${PM2:-} ]]; then
            say "pm2 monit at $n for ${SECS}s"
            python3 -c "
import json, sys
apps = [{'name': f'p{i}', 'script': 'sleep', 'args': '1000000', 'autorestart': False} for i in range($n)]
open(sys.argv[1], 'w').write('module.exports = ' + json.dumps({'apps': apps}) + ';')" "$WORK/eco.config.js"
            "$PM2" start "$WORK/eco.config.js" >/dev/null
            god=$(cat "$PM2_HOME/pm2.pid")
            sleep 3
            a=$(cpu_ns "$god"); sleep "$SECS"; b=$(cpu_ns "$god")
            idle=$(python3 -c "print(f'{($b - $a) / 1e9 / $SECS * 100:.2f}%')")
            tmux -S "$SOCK" -f /dev/null new-session -d -s p -x 200 -y 50 "PM2_HOME=$PM2_HOME exec $PM2 monit"
            sleep 5
            ppid=$(tmux -S "$SOCK" display-message -p -t p '#{pane_pid}')
            a=$(cpu_ns "$ppid"); g=$(cpu_ns "$god"); sleep "$SECS"; b=$(cpu_ns "$ppid"); h=$(cpu_ns "$god")
            tmux -S "$SOCK" kill-server
            MONIT+=$'\n'"| pm2 monit | $n | $(python3 -c "print(f'{($b - $a) / 1e9 / $SECS * 100:.2f}%')") | daemon $(python3 -c "print(f'{($h - $g) / 1e9 / $SECS * 100:.2f}%')") (idle: $idle) |"
            "$PM2" kill >/dev/null 2>&1
        fi
        say "supervisors at $n, no memory limit, ${SECS}s"
        mapfile -t sups < <(supervisors)
        a=$(cpu_ns "${sups[@]}"); w=$(wakes "${sups[@]}"); sleep "$SECS"
        b=$(cpu_ns "${sups[@]}"); x=$(wakes "${sups[@]}")
        IDLE="| none | $n | $((x - w)) | $(((b - a) / 1000)) µs | $(((b - a) / 1000 / (x - w > 0 ? x - w : 1))) µs |"
        PSS100=$(pss_per_supervisor)
        "$TSM" delete '*' --kill-timeout 200ms >/dev/null
        say "supervisors at $n with --max-memory-restart 1G, ${SECS}s"
        grow "$n" --max-memory-restart 1G
        mapfile -t sups < <(supervisors)
        a=$(cpu_ns "${sups[@]}"); w=$(wakes "${sups[@]}"); sleep "$SECS"
        b=$(cpu_ns "${sups[@]}"); x=$(wakes "${sups[@]}")
        LIMIT="| 1G (checked every 2 s) | $n | $((x - w)) | $(((b - a) / 1000)) µs | $(((b - a) / 1000 / (x - w > 0 ? x - w : 1))) µs |"
        "$TSM" delete '*' --kill-timeout 200ms >/dev/null
        grow "$n"
    fi
done
PSSMAX=$(pss_per_supervisor)
{
    echo
    echo "### tsm monit"
    echo
    echo "CPU of the dashboard process (time on a CPU from \`/proc/PID/schedstat\`) over ${SECS} s, refreshing at 1 Hz in a 200×50 tmux pane. tsm has no daemon; pm2's God daemon works for its dashboard too (its CPU while \`pm2 monit\` runs, and idle before)."
    echo
    echo "| | services | CPU (% of one core) | the manager meanwhile |"
    echo "|---|---:|---:|---|"
    echo "$MONIT"
    echo
    echo "### memory limit: what the check costs a supervisor"
    echo
    echo "Wake-ups (voluntary context switches) and time on a CPU (\`/proc/PID/schedstat\`) summed over every supervisor during ${SECS} s."
    echo
    echo "| limit | supervisors | wake-ups | CPU | CPU per wake-up |"
    echo "|---|---:|---:|---:|---:|"
    echo "$IDLE"
    echo "$LIMIT"
    echo
    echo "### supervisor size"
    echo
    echo "Mean PSS per supervisor (\`/proc/PID/smaps_rollup\`); the floor, a static C program that only sleeps, measures about 107 kB."
    echo
    echo "| N | PSS per supervisor |"
    echo "|---:|---:|"
    echo "| ${NS%% *} | ${PSS100} kB |"
    echo "| ${NS##* } | ${PSSMAX} kB |"
} >>"$REPORT"
# Everything before the marker stays (bench.sh's report); this section replaces what followed.
if [[ -f $OUT ]]; then
    awk -v m="$MARK" '$0 == m { exit } { print }' "$OUT" >"$WORK/head.md"
else
    : >"$WORK/head.md"
fi
cat "$WORK/head.md" "$REPORT" >"$OUT"
cat "$REPORT"
