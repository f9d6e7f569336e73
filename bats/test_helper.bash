# shellcheck shell=bash
# Common setup for the bats suite of the tsm shell shim (shell/tsm.sh).
#
#   load test_helper
#   setup() { common_setup; }
#   teardown() { common_teardown; }
#
# Every test gets its own temporary folder, TEST_DIR, used as TETRA_DIR and as HOME, with a
# `stubs/` folder at the front of PATH for stub commands (see `stub`). Teardown stops every
# service the test started and then kills, as a safety net, any process still carrying the
# test's TETRA_DIR in its environment.
#
# TSM_NATIVE is the binary under test: `cargo test` exports it; run directly, the suite uses
# target/debug/tsm-native of this checkout (build it first with `cargo build`).
#
# Anything a test starts in the background must close fd 3 (`3>&-`), or bats waits for it.

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd -P)
SHIM=$REPO_ROOT/shell/tsm.sh
export REPO_ROOT SHIM

common_setup() {
    TSM_NATIVE=${TSM_NATIVE:-$REPO_ROOT/target/debug/tsm-native}
    if [ ! -x "$TSM_NATIVE" ]; then
        printf 'tsm-native not found at %s: run cargo build, or set TSM_NATIVE\n' "$TSM_NATIVE" >&2
        return 1
    fi
    # The binary under test, kept for teardown whatever the test does to TSM_NATIVE.
    REAL_TSM_NATIVE=$(cd "$(dirname "$TSM_NATIVE")" && pwd -P)/$(basename "$TSM_NATIVE")
    TSM_NATIVE=$REAL_TSM_NATIVE
    export TSM_NATIVE REAL_TSM_NATIVE

    if [ -n "${BATS_TEST_TMPDIR:-}" ]; then
        TEST_DIR=$BATS_TEST_TMPDIR
        OWN_TEST_DIR=
    else
        TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsm-bats.XXXXXX")
        OWN_TEST_DIR=$TEST_DIR
    fi
    TEST_DIR=$(cd "$TEST_DIR" && pwd -P)
    TETRA_DIR=$TEST_DIR
    HOME=$TEST_DIR
    STUBS=$TEST_DIR/stubs
    STUB_LOGS=$TEST_DIR/stub-logs
    mkdir -p "$STUBS" "$STUB_LOGS"
    PATH=$STUBS:$PATH
    export TEST_DIR TETRA_DIR HOME STUBS STUB_LOGS PATH
    # A PORT from the caller's environment would be used by `tsm start` as a last resort.
    unset PORT
}

common_teardown() {
    [ -n "${TEST_DIR:-}" ] || return 0 # common_setup failed before making it
    TETRA_DIR=$TEST_DIR "$REAL_TSM_NATIVE" delete '*' --kill-timeout 1s >/dev/null 2>&1 || true
    kill_leftovers "$TEST_DIR"
    if [ -n "${OWN_TEST_DIR:-}" ]; then
        rm -rf "$OWN_TEST_DIR"
    fi
}

# leftover_pids DIR: the pids whose environment holds TETRA_DIR=DIR, one a line. Linux: one
# grep over every /proc/PID/environ (a bash loop would be slow under bats' DEBUG trap); macOS:
# `ps -E`, which appends each of our own processes' environment to its command line, and
# since it shows none for Apple's own programs (/bin/sleep, /bin/bash: SIP), every process of
# ours whose working folder is DIR or below it (lsof; DIR is a physical path). Every
# program of the pipeline is started without TETRA_DIR in its environment, so that none finds
# another: the variable is unset in the subshell before anything is exec'd (`env -u` was not
# enough: the env process itself carries it until it execs, and a grep scanning meanwhile
# took it, or the sed it was about to become, for a leftover, under load).
leftover_pids() (
    unset TETRA_DIR
    # Nothing of this pipeline runs in DIR.
    cd / || return 0
    if [ -d /proc/self ]; then
        { grep -lsFxz -e "TETRA_DIR=$1" /proc/[0-9]*/environ || true; } |
            sed -e 's|^/proc/||' -e 's|/environ$||'
    else
        # shellcheck disable=SC2016 # awk's own $i and $1
        ps -axE -o pid=,command= |
            awk -v word="TETRA_DIR=$1" '{ for (i = 2; i <= NF; i++) if ($i == word) { print $1; next } }'
        # Not this shell and its ancestors (bats itself, whose folder may be DIR).
        local mine pid=$BASHPID
        mine=" "
        while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
            mine="$mine$pid "
            pid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
        done
        /usr/sbin/lsof -a -d cwd -u "$(id -u)" -Fn 2>/dev/null |
            awk -v dir="$1" -v mine="$mine" '/^p/ { pid = substr($0, 2) }
                /^n/ { path = substr($0, 2)
                    if ((path == dir || index(path, dir "/") == 1) && index(mine, " " pid " ") == 0) print pid }'
    fi | sort -un
)

# has_leftover DIR PID: PID is one of leftover_pids DIR.
has_leftover() (
    unset TETRA_DIR
    leftover_pids "$1" | grep -qxF "$2"
)

# kill_leftovers DIR: SIGKILLs every process whose environment holds TETRA_DIR=DIR and waits
# for them to be gone. Reports each one on the TAP stream, since a leftover means `tsm delete`
# missed something.
kill_leftovers() {
    local pid args pids killed=() described=()
    # The whole list first: nothing the loop starts can be seen by the scan.
    pids=$(leftover_pids "$1")
    for pid in $pids; do
        case "$pid" in "$$" | "$BASHPID") continue ;; esac
        args=$(unset TETRA_DIR && ps -o args= -p "$pid" 2>/dev/null) || true
        if kill -KILL "$pid" 2>/dev/null; then
            killed+=("$pid")
            described+=("$pid $args")
        fi
    done
    [ "${#killed[@]}" -eq 0 ] && return 0
    printf '# teardown: killed leftover process %s\n' "${described[@]}" >&3
    for pid in "${killed[@]}"; do
        wait_until 5 pid_gone "$pid" || true
    done
}

# wait_until SECONDS COMMAND...: runs COMMAND every 50ms until it succeeds (status 0) or
# SECONDS have passed (status 1, with a note on stderr).
wait_until() {
    local seconds=$1 tries
    shift
    tries=$((seconds * 20))
    while ! "$@"; do
        if [ "$tries" -le 0 ]; then
            printf 'wait_until: gave up after %ss waiting for: %s\n' "$seconds" "$*" >&2
            return 1
        fi
        tries=$((tries - 1))
        sleep 0.05
    done
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        stat=$(<"/proc/$1/stat") || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ] || return 1
    fi
    return 0
}

pid_gone() {
    ! pid_alive "$1"
}

# cmdline_is PID WORDS: the process's argv, joined by spaces, is WORDS (/proc on Linux, ps
# elsewhere).
cmdline_is() {
    local argv
    if [ -r "/proc/$1/cmdline" ]; then
        argv=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
    else
        argv="$(ps -o args= -p "$1" 2>/dev/null) " || return 1
    fi
    [ "$argv" = "$2 " ]
}

# free_ports [N]: N (default 1) different TCP ports that nothing listens on right now, one a
# line: bound to port 0 all at once, then released (python3; without it, random high ports
# that refuse a connection). Tests never assume 3000, 8080, … are free.
free_ports() {
    local n=${1:-1} port found=0
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print("\n".join(str(s.getsockname()[1]) for s in held))
' "$n"
        return
    fi
    while [ "$found" -lt "$n" ]; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            found=$((found + 1))
        fi
    done
}

# free_port: one TCP port that nothing listens on right now.
free_port() {
    free_ports 1
}

# make_service FILE PORT: an executable script that exports PORT and sleeps for 300s.
make_service() {
    printf '#!/usr/bin/env bash\nexport PORT=%s\nexec sleep 300\n' "$2" >"$1"
    chmod +x "$1"
}

# stub NAME [BODY]: creates $STUBS/NAME, a bash script that appends its arguments (one call a
# line, words joined by spaces) to $STUB_LOGS/NAME.log and then runs BODY. The script names
# bash by its absolute path, so it also runs on a PATH without bash.
stub() {
    local name=$1 body=${2:-}
    {
        printf '#!%s\n' "$BASH"
        printf 'printf "%%s\\n" "$*" >>%q\n' "$STUB_LOGS/$name.log"
        printf '%s\n' "$body"
    } >"$STUBS/$name"
    chmod +x "$STUBS/$name"
}

# stub_calls NAME: what the stub was called with, one call a line (nothing if never called).
stub_calls() {
    if [ -f "$STUB_LOGS/$1.log" ]; then
        cat "$STUB_LOGS/$1.log"
    fi
}

# stub_count NAME LINE: how many calls of stub NAME had exactly the arguments LINE.
stub_count() {
    local line n=0
    while IFS= read -r line; do
        if [ "$line" = "$2" ]; then
            n=$((n + 1))
        fi
    done < <(stub_calls "$1")
    printf '%s\n' "$n"
}

# make_min_path DIR TOOL...: fills DIR with symlinks to just these tools, for a PATH that has
# nothing else (no setsid, no cargo, no tsm-native).
make_min_path() {
    local dir=$1 tool real
    shift
    mkdir -p "$dir"
    for tool in "$@"; do
        real=$(command -v "$tool") || {
            printf 'make_min_path: %s not found\n' "$tool" >&2
            return 1
        }
        ln -sf "$real" "$dir/$tool"
    done
}

# mode_of PATH: the permission bits in octal (GNU or BSD stat).
mode_of() {
    stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1"
}

# clean_bash ARGS...: bash without startup files (a test's `bash -c` runs use this).
clean_bash() {
    "$BASH" --noprofile --norc "$@"
}

# make_checkout DIR: a fake checkout with a copy of the shim at DIR/shell/tsm.sh (and the
# executable shell/tsm) and no build.
make_checkout() {
    mkdir -p "$1/shell"
    cp "$SHIM" "$1/shell/tsm.sh"
    cp "$REPO_ROOT/shell/tsm" "$1/shell/tsm"
}

# fake_native FILE TAG: a stand-in tsm-native that prints TAG and then each argument in
# brackets (`debug [start][a b]`), and exits with $FAKE_EXIT (default 0); `init` it leaves to
# the real binary, so that the shim loads the real integration (whose tsm function then runs
# this stand-in).
fake_native() {
    # shellcheck disable=SC2016 # expanded by the stand-in, not here
    printer_native "$1" "$2" "$(printf '[ "${1-}" = init ] && exec %q "$@"' "$REAL_TSM_NATIVE")"
}

# old_native FILE TAG: like fake_native, but `init` is printed like any other command: a
# tsm-native older than `init`, which prints no integration.
old_native() {
    printer_native "$1" "$2" ""
}

# printer_native FILE TAG FIRST_LINE: the stand-in of fake_native and old_native.
printer_native() {
    mkdir -p "$(dirname "$1")"
    {
        printf '#!%s\n' "$BASH"
        printf '%s\n' "$3"
        printf 'printf %%s %q\n' "$2"
        # shellcheck disable=SC2016 # expanded by the stub, not here
        printf '%s\n' 'printf " "; printf "[%s]" "$@"; printf "\n"' 'exit "${FAKE_EXIT:-0}"'
    } >"$1"
    chmod +x "$1"
}
