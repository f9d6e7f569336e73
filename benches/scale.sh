#!/usr/bin/env bash
# Many services on one machine: N `sleep` services started with one call each, then listed,
# stopped all and deleted all; then the same N from one ecosystem config with N apps.
# Prints one line per step with its wall time. Usage: benches/scale.sh [N] [TSM_BINARY]
# (default 10000 and target/release/tsm-native). N above the machine's pid_max / 3 needs
# `sysctl -w kernel.pid_max=...` first (each service is a supervisor and a sleep).
set -u
n=${1:-10000}
tsm=${2:-target/release/tsm-native}
case $tsm in /*) ;; *) tsm=$PWD/$tsm ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/tsm-scale.XXXXXX")
export TETRA_DIR=$work/tetra
unset PORT
trap '"$tsm" delete "*" >/dev/null 2>&1; rm -rf "$work"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
step() { # step LABEL COMMAND...: runs it, prints its time and how many lines it wrote to stderr
  local t0 errs
  t0=$(date +%s%N)
  "${@:2}" >/dev/null 2>"$work/err"
  errs=$(wc -l <"$work/err")
  printf '%-38s %8s ms%s\n' "$1" "$(ms "$t0")" "$([ "$errs" -gt 0 ] && echo "  ($errs lines on stderr: $(head -c 200 "$work/err"))")"
}
running() { grep -l 'status=online' "$TETRA_DIR"/tsm/processes/*.meta 2>/dev/null | wc -l; }

printf '#!/bin/sh\nexec sleep 86400\n' >"$work/svc.sh"
chmod +x "$work/svc.sh"
echo "N=$n  $(uname -sr)  pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null)  nofile=$(ulimit -n)  $("$tsm" --version 2>/dev/null)"

start_each() {
  local i
  for ((i = 0; i < n; i++)); do
    "$tsm" start --no-port "$work/svc.sh" "s$i" || return 1
  done
}
step "start $n, one call each (total)" start_each
echo "  running: $(running)"
step "start one more (at $n)" "$tsm" start --no-port "$work/svc.sh" extra
step "list" "$tsm" list
step "list --json" "$tsm" jlist
step "stop all" "$tsm" stop '*'
echo "  running after stop: $(running)"
step "delete all" "$tsm" delete '*'
echo "  meta files left: $(find "$TETRA_DIR/tsm/processes" -name '*.meta' | wc -l)"

{
  echo '{ "apps": ['
  for ((i = 0; i < n; i++)); do
    sep=,
    [ "$i" -eq $((n - 1)) ] && sep=
    echo "  { \"name\": \"c$i\", \"script\": \"$work/svc.sh\" }$sep"
  done
  echo '] }'
} >"$work/ecosystem.config.json"
step "start one config with $n apps" "$tsm" start "$work/ecosystem.config.json"
echo "  running: $(running)"
step "list" "$tsm" list
step "stop all" "$tsm" stop '*'
step "delete all" "$tsm" delete '*'
echo "  meta files left: $(find "$TETRA_DIR/tsm/processes" -name '*.meta' | wc -l)"
