#!/usr/bin/env bash
# Σ PSS of N idle supervisors (each of a `sleep`), for several tsm-native binaries measured in
# the same run, interleaved, TRIALS times; prints each trial and the median per binary, and
# the private pages of one supervisor by kind (from /proc/PID/smaps).
#
#   benches/supmem.sh N TRIALS LABEL=BINARY [LABEL=BINARY...]
#   benches/supmem.sh 100 3 main=/tmp/main-tsm-native glibc=target/release/tsm-native
#
# A binary's light supervisor is used when it is installed beside it (tsm-supervisor-BUILD),
# as a start does. Copy a binary before measuring it while it is rebuilt. Linux only.
set -euo pipefail

n=${1:?usage: supmem.sh N TRIALS LABEL=BINARY...}
trials=${2:?usage: supmem.sh N TRIALS LABEL=BINARY...}
shift 2
[ $# -gt 0 ] || {
    echo "usage: supmem.sh N TRIALS LABEL=BINARY..." >&2
    exit 64
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tsm-supmem.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The supervisors of state folder $1: pids whose command line supervises there.
supervisors() {
    local pid
    for pid in $(pgrep -f -- "supervise --dir $1/tsm " || true); do
        echo "$pid"
    done
}

# Σ Pss (kB) of the supervisors of $1.
sum_pss() {
    local pid total=0 pss
    for pid in $(supervisors "$1"); do
        pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        total=$((total + ${pss:-0}))
    done
    echo "$total"
}

# One supervisor's private dirty pages by mapping (kB).
breakdown() {
    local pid
    pid=$(supervisors "$1" | head -n1)
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon " $2 "]" : $6 " " $2) }
         /^Private_Dirty:/ { if ($2 > 0) sum[name] += $2 }
         END { for (k in sum) printf "    %4d kB  %s\n", sum[k], k }' "/proc/$pid/smaps" | sort -rn
}

# Starts $n sleeps with binary $2 in a fresh state folder $1, measures, deletes them.
measure() {
    local dir=$1 bin=$2 i
    mkdir -p "$dir"
    for i in $(seq 1 "$n"); do
        TETRA_DIR=$dir "$bin" start --name "s$i" --port $((20000 + i)) sleep -- 100000 >/dev/null
    done
    # Every supervisor has slept once (its start-up memory handed back) once all are online.
    sleep 1
    sum_pss "$dir"
    if [ -n "${BREAKDOWN:-}" ]; then breakdown "$dir" >&2; fi
    TETRA_DIR=$dir "$bin" delete all >/dev/null 2>&1 || true
    rm -rf "$dir"
}

declare -A results
for t in $(seq 1 "$trials"); do
    for pair in "$@"; do
        label=${pair%%=*}
        bin=${pair#*=}
        first=
        if [ "$t" = 1 ]; then first=1; fi
        kb=$(BREAKDOWN=$first measure "$work/$label.$t" "$bin" 2>"$work/breakdown")
        if [ "$t" = 1 ]; then
            echo "$label: one supervisor's private dirty pages"
            cat "$work/breakdown"
        fi
        echo "trial $t $label N=$n: $kb kB ($((kb / n)) kB each)"
        results[$label]="${results[$label]:-} $kb"
    done
done
echo "median of $trials, N=$n:"
for pair in "$@"; do
    label=${pair%%=*}
    # shellcheck disable=SC2086
    med=$(printf '%s\n' ${results[$label]} | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    printf '  %-10s %8d kB  %6.1f kB each\n' "$label" "$med" "$(echo "$med $n" | awk '{print $1 / $2}')"
done
