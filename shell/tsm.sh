# shellcheck shell=bash
# tsm: Tetra Service Manager shell integration.
#
#   source /path/to/tsm/shell/tsm.sh    # in ~/.bashrc, ~/.bash_profile or ~/.zshrc
#
# Defines the `tsm` function. `tsm setup` prepares the machine; every other command is handed
# unchanged to the tsm-native binary, whose exit status is returned. Works in bash >= 3.2 (and
# zsh) and under `set -u`; defines only `tsm` and `_tsm_*` functions and leaves no variables behind.

# Records where this checkout lives (found from BASH_SOURCE, not TETRA_SRC) as a function, so
# that no global variable is needed.
_tsm_init() {
    local src dir link
    src=$1
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
if [ -n "${ZSH_VERSION:-}" ]; then
    # zsh has no BASH_SOURCE; %x is the file being sourced (eval hides zsh syntax from bash).
    eval '_tsm_init "${(%):-%x}"'
else
    _tsm_init "${BASH_SOURCE[0]}"
fi
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

  setup [--profile]                      prepare this machine (folders, binary, macOS setsid);
                                         --profile: also source tsm.sh from your shell profile
  start [--env FILE] [--port N] SCRIPT [NAME] [-- ARGS...]
                                         start SCRIPT as service NAME-PORT
  stop TARGET...                         stop services (TERM, then KILL after --kill-timeout)
  restart TARGET...                      stop and start again, keeping ID and name
  delete TARGET...                       stop and forget services (logs are kept)
  list, ls [--json]                      list services with their TSM IDs
  ports [--json]                         show the port of each service
  logs [TARGET...] [--lines N] [-f]      show and follow services' output
  repl                                   interactive prompt (TAB completion, /help)
  startup [systemd|launchd] [--install]  run `tsm resurrect` at login (unstartup removes it)
  completions bash|zsh|fish              print a completion script
  help                                   this text; `tsm COMMAND --help` for details

TARGET: '*' (all), a TSM ID, an exact name, a unique part of a name, or a port.
State: $TETRA_DIR/tsm (TETRA_DIR defaults to ~/tetra).
USAGE
}

# tsm setup: the state folders, the binary (built with cargo when missing) and, on macOS
# without setsid, util-linux from Homebrew on PATH. Safe to run again. --profile: then
# _tsm_setup_profile.
_tsm_setup() {
    local dir prefix _tsm_b _tsm_r profile=
    while [ $# -gt 0 ]; do
        case $1 in
            --profile) profile=1 ;;
            *)
                printf "tsm: setup: unknown argument '%s' (usage: tsm setup [--profile])\n" "$1" >&2
                return 64
                ;;
        esac
        shift
    done
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
    if [ -n "$profile" ]; then
        _tsm_setup_profile
    fi
}

# tsm setup --profile: adds `source <checkout>/shell/tsm.sh` to a shell startup file, once.
# The file, as rbenv and pyenv choose it: $PROFILE when set (PROFILE=/dev/null changes
# nothing); ~/.zshrc when $SHELL is zsh; else ~/.bashrc, or ~/.bash_profile on macOS and
# when only ~/.bash_profile exists.
_tsm_setup_profile() {
    local _tsm_r file line sep
    _tsm_root
    line="source $(printf '%q' "$_tsm_r/shell/tsm.sh")"
    if [ -n "${PROFILE:-}" ]; then
        file=$PROFILE
    elif [ -z "${HOME:-}" ]; then
        printf 'tsm: HOME is not set; choose the file with PROFILE=FILE tsm setup --profile\n' >&2
        return 1
    else
        case ${SHELL:-} in
            *zsh) file=$HOME/.zshrc ;;
            *)
                file=$HOME/.bashrc
                if [ "$(uname -s 2>/dev/null)" = Darwin ] ||
                    { [ ! -e "$HOME/.bashrc" ] && [ -e "$HOME/.bash_profile" ]; }; then
                    file=$HOME/.bash_profile
                fi
                ;;
        esac
    fi
    if [ "$file" = /dev/null ]; then
        printf 'tsm: PROFILE=/dev/null: no profile changed; to load tsm in every shell, add:\n  %s\n' "$line"
        return 0
    fi
    # Any line that is not a comment and names this shim counts, however it is quoted.
    if [ -f "$file" ] && grep -v '^[[:space:]]*#' "$file" | grep -qF -- "$_tsm_r/shell/tsm.sh"; then
        printf 'tsm: %s already sources %s; nothing changed\n' "$file" "$_tsm_r/shell/tsm.sh"
        return 0
    fi
    # A last line without its newline is finished first.
    sep=
    if [ -s "$file" ] && [ -n "$(tail -c 1 -- "$file")" ]; then
        sep='\n'
    fi
    # shellcheck disable=SC2059 # sep is a printf escape, on purpose
    printf "$sep\\n# tsm: Tetra Service Manager (added by tsm setup --profile)\\n%s\\n" "$line" \
        2>/dev/null >>"$file" || {
        printf 'tsm: cannot write %s\n' "$file" >&2
        return 1
    }
    printf 'tsm: added to %s: %s\n' "$file" "$line"
    printf 'tsm: new shells load tsm; for this one, run: %s\n' "$line"
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

# Sets the caller's COMPREPLY to the words of $1 that start with $2.
_tsm_reply() {
    local item
    while IFS= read -r item; do
        COMPREPLY[${#COMPREPLY[@]}]=$item
    done < <(compgen -W "$1" -- "$2")
}

# Bash completion of the tsm function: commands; then process names (`tsm-native list
# --names`) for the commands that take targets, the options of the command (from its --help),
# shells and init systems. Nothing for start, so that bash completes file names.
_tsm_complete() {
    local cur cmd words _tsm_b
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]-}
    if [ "${COMP_CWORD:-0}" -le 1 ]; then
        words="setup start stop restart delete list ls ports logs flush describe save resurrect"
        words="$words doctor repl monit startup unstartup completions help"
        _tsm_reply "$words" "$cur"
        return 0
    fi
    cmd=${COMP_WORDS[1]-}
    case $cmd:$cur in
        setup:*) words=--profile ;;
        *:-*)
            _tsm_find_bin || return 0
            words=$("$_tsm_b" "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]+')
            ;;
        stop:* | restart:* | delete:* | del:* | logs:* | describe:* | flush:*)
            _tsm_find_bin || return 0
            words=$("$_tsm_b" list --names 2>/dev/null)
            ;;
        completions:*) words="bash zsh fish elvish powershell" ;;
        startup:* | unstartup:*) words="systemd launchd" ;;
        *) return 0 ;;
    esac
    _tsm_reply "$words" "$cur"
}

# In an interactive bash, TAB completes tsm (falling back to file names).
case $- in
    *i*)
        if [ -n "${BASH_VERSION:-}" ]; then
            complete -o default -F _tsm_complete tsm 2>/dev/null || :
        fi
        ;;
esac
