# shellcheck shell=bash
# tsm: Tetra Service Manager shell integration.
#
#   source /path/to/tsm/shell/tsm.sh    # in ~/.bashrc or ~/.bash_profile
#
# Defines the `tsm` function. `tsm setup` prepares the machine; every other command is handed
# unchanged to the tsm-native binary, whose exit status is returned. Works in bash >= 3.2 and
# under `set -u`; defines only `tsm` and `_tsm_*` functions and leaves no variables behind.

# Records where this checkout lives (found from BASH_SOURCE, not TETRA_SRC) as a function, so
# that no global variable is needed.
_tsm_init() {
    local src dir link
    src=${BASH_SOURCE[0]}
    # Follow a symlinked tsm.sh to the checkout it belongs to.
    while [ -L "$src" ]; do
        link=$(readlink "$src") || break
        case $link in
            /*) src=$link ;;
            *) src=$(dirname -- "$src")/$link ;;
        esac
    done
    dir=$(CDPATH='' cd -- "$(dirname -- "$src")/.." >/dev/null 2>&1 && pwd -P) || return 1
    eval "_tsm_root() { _tsm_r=$(printf '%q' "$dir"); }"
}
_tsm_init
unset -f _tsm_init

# Sets the caller's `_tsm_b` to the tsm-native binary: $TSM_NATIVE, else this checkout's
# target/release or target/debug build, else tsm-native on PATH.
_tsm_find_bin() {
    local _tsm_r
    if [ -n "${TSM_NATIVE:-}" ]; then
        _tsm_b=$TSM_NATIVE
        [ -x "$_tsm_b" ] && return 0
        printf 'tsm: TSM_NATIVE=%s is not an executable file\n' "$TSM_NATIVE" >&2
        return 1
    fi
    _tsm_root
    if [ -x "$_tsm_r/target/release/tsm-native" ]; then
        _tsm_b=$_tsm_r/target/release/tsm-native
    elif [ -x "$_tsm_r/target/debug/tsm-native" ]; then
        _tsm_b=$_tsm_r/target/debug/tsm-native
    elif _tsm_b=$(command -v tsm-native 2>/dev/null); then
        :
    else
        _tsm_b=
        return 1
    fi
}

_tsm_usage() {
    cat <<'USAGE'
tsm - Tetra Service Manager

Usage: tsm <command> [arguments]

  setup                                  prepare this machine (folders, binary, macOS setsid)
  start [--env FILE] [--port N] SCRIPT [NAME] [-- ARGS...]
                                         start SCRIPT as service NAME-PORT
  stop TARGET...                         stop services (TERM, then KILL after --kill-timeout)
  restart TARGET...                      stop and start again, keeping ID and name
  delete TARGET...                       stop and forget services (logs are kept)
  list, ls [--json]                      list services with their TSM IDs
  ports [--json]                         show the port of each service
  help                                   this text; `tsm COMMAND --help` for details

TARGET: '*' (all), a TSM ID, an exact name, a unique part of a name, or a port.
State: $TETRA_DIR/tsm (TETRA_DIR defaults to ~/tetra).
USAGE
}

# tsm setup: the state folders, the binary (built with cargo when missing) and, on macOS
# without setsid, util-linux from Homebrew on PATH. Safe to run again.
_tsm_setup() {
    local dir prefix _tsm_b _tsm_r
    if [ -z "${TETRA_DIR:-}" ] && [ -z "${HOME:-}" ]; then
        printf 'tsm: neither TETRA_DIR nor HOME is set\n' >&2
        return 1
    fi
    dir=${TETRA_DIR:-$HOME/tetra}/tsm
    if ! mkdir -p "$dir/logs" "$dir/pids" "$dir/processes" || ! chmod 700 "$dir"; then
        printf 'tsm: cannot create %s\n' "$dir" >&2
        return 1
    fi
    printf 'tsm: state folder %s\n' "$dir"

    if [ "$(uname -s 2>/dev/null)" = Darwin ] && ! command -v setsid >/dev/null 2>&1; then
        if command -v brew >/dev/null 2>&1; then
            prefix=$(brew --prefix util-linux 2>/dev/null)
            if [ -z "$prefix" ] || [ ! -x "$prefix/bin/setsid" ]; then
                printf 'tsm: setsid not found; running: brew install util-linux\n'
                brew install util-linux || {
                    printf 'tsm: brew install util-linux failed\n' >&2
                    return 1
                }
                prefix=$(brew --prefix util-linux 2>/dev/null)
                if [ -z "$prefix" ] || [ ! -x "$prefix/bin/setsid" ]; then
                    printf 'tsm: brew installed util-linux, but %s/bin/setsid is missing\n' "$prefix" >&2
                    return 1
                fi
            fi
            case ":$PATH:" in
                *":$prefix/bin:"*) ;;
                *)
                    PATH=$prefix/bin:$PATH
                    export PATH
                    printf 'tsm: added %s/bin to PATH (for this shell; sourcing tsm.sh does it again)\n' "$prefix"
                    ;;
            esac
        else
            printf 'tsm: setsid not found and Homebrew is missing; install Homebrew, then run: brew install util-linux\n' >&2
        fi
    fi

    if ! _tsm_find_bin; then
        _tsm_root
        if ! command -v cargo >/dev/null 2>&1; then
            printf 'tsm: tsm-native is not built and cargo is missing; install Rust, then run tsm setup again\n' >&2
            return 1
        fi
        printf 'tsm: building tsm-native (cargo build --release in %s)\n' "$_tsm_r"
        (cd "$_tsm_r" && cargo build --release --quiet) || {
            printf 'tsm: cargo build failed\n' >&2
            return 1
        }
        _tsm_find_bin || return 1
    fi
    printf 'tsm: ready (%s)\n' "$_tsm_b"
}

# On macOS, util-linux from Homebrew is keg-only: put its bin on PATH when it is installed.
_tsm_macos_path() {
    local prefix
    [ "$(uname -s 2>/dev/null)" = Darwin ] || return 0
    command -v setsid >/dev/null 2>&1 && return 0
    # The usual Homebrew prefixes first: asking brew costs a noticeable moment per shell.
    for prefix in /opt/homebrew/opt/util-linux /usr/local/opt/util-linux; do
        if [ -x "$prefix/bin/setsid" ]; then
            PATH=$prefix/bin:$PATH
            export PATH
            return 0
        fi
    done
    command -v brew >/dev/null 2>&1 || return 0
    prefix=$(brew --prefix util-linux 2>/dev/null) || return 0
    if [ -x "$prefix/bin/setsid" ]; then
        PATH=$prefix/bin:$PATH
        export PATH
    fi
}
_tsm_macos_path

tsm() {
    local _tsm_b
    case "${1-}" in
        setup)
            shift
            _tsm_setup "$@"
            return
            ;;
        "" | help | -h | --help)
            _tsm_usage
            return 0
            ;;
    esac
    if ! _tsm_find_bin; then
        printf 'tsm: tsm-native not found; run: tsm setup\n' >&2
        return 1
    fi
    "$_tsm_b" "$@"
}
