# shellcheck shell=bash
# tsm: Tetra Service Manager shell integration.
#
#   source /path/to/tsm/shell/tsm.sh    # in ~/.bashrc, ~/.bash_profile or ~/.zshrc
#
# Defines the `tsm` function. This file keeps what must work before tsm-native exists: finding
# the binary, `tsm setup` (which builds it) and a usage; then it loads what the binary prints,
# `tsm-native init bash` (or zsh): the tsm function that hands every other command to
# tsm-native unchanged and returns its exit status, and the completion. Works in bash >= 3.2
# (and zsh) and under `set -u`; defines only `tsm` and `_tsm_*` functions and leaves no
# variables behind.

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
# target/release or target/debug build, else tsm-native on PATH; or says on stderr why there is
# none. (The tsm function of `tsm-native init` uses it when this file loaded it.)
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
        printf 'tsm: tsm-native not found; run: tsm setup\n' >&2
        return 1
    fi
}

# What `tsm help` says when tsm-native is not built yet (the full list comes from tsm-native).
_tsm_usage() {
    cat <<'USAGE'
tsm - Tetra Service Manager

Usage: tsm <command> [arguments]

tsm-native is not built yet: run `tsm setup` (it builds it), then `tsm help` lists every command.
USAGE
}

_tsm_setup_usage() {
    cat <<'USAGE'
Prepare this machine for tsm: the tsm-native binary (built with cargo when missing), the
`tsm` command in ~/.local/bin (for /bin/sh, make, cron and CI), and on macOS without setsid,
util-linux from Homebrew (for your own scripts; tsm itself never needs it).

Usage: tsm setup [--profile]

Options:
      --profile  Also add `source .../shell/tsm.sh` to your shell's startup file (once)
  -h, --help     Print help
USAGE
}

# tsm setup: on macOS without setsid, util-linux from Homebrew on PATH; the binary (built
# with cargo when missing), whose integration is then loaded; the ~/.local/bin/tsm link.
# Safe to run again. --profile: then _tsm_setup_profile. (The state folder is tsm-native's:
# it makes what it needs.)
_tsm_setup() {
    local prefix _tsm_b _tsm_r profile=
    while [ $# -gt 0 ]; do
        case $1 in
            --profile) profile=1 ;;
            -h | --help)
                _tsm_setup_usage
                return 0
                ;;
            *)
                printf "tsm: setup: unknown argument '%s' (usage: tsm setup [--profile])\n" "$1" >&2
                return 64
                ;;
        esac
        shift
    done
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
                    # Appended: util-linux's getopt, column, hexdump, logger, … must not
                    # shadow macOS's own.
                    PATH=$PATH:$prefix/bin
                    export PATH
                    printf 'tsm: added %s/bin to the end of PATH (for this shell)\n' "$prefix"
                    ;;
            esac
        else
            printf 'tsm: setsid not found and Homebrew is missing; install Homebrew, then run: brew install util-linux\n' >&2
        fi
    fi

    if ! _tsm_find_bin 2>/dev/null; then
        # TSM_NATIVE names the binary to use: it is never built here.
        [ -z "${TSM_NATIVE:-}" ] || {
            _tsm_find_bin
            return 1
        }
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
    _tsm_setup_light
    printf 'tsm: ready (%s)\n' "$_tsm_b"
    _tsm_load
    _tsm_setup_link
    if [ -n "$profile" ]; then
        _tsm_setup_profile
    fi
}

# tsm setup, on Linux: the light supervisor beside a tsm-native built in this checkout
# (target/release; never for TSM_NATIVE): the same sources built for musl, installed as
# tsm-supervisor-BUILD once it names the same build (docs/ARCHITECTURE.md, "The supervisor's
# memory"). Without the musl target it says how to get one; supervisors then run as
# tsm-native itself.
_tsm_setup_light() {
    local target build light built
    [ "$(uname -s 2>/dev/null)" = Linux ] && [ -z "${TSM_NATIVE:-}" ] || return 0
    _tsm_root
    [ "$_tsm_b" = "$_tsm_r/target/release/tsm-native" ] || return 0
    build=$("$_tsm_b" supervise --build 2>/dev/null) && [ -n "$build" ] || return 0
    light=$_tsm_r/target/release/tsm-supervisor-$build
    [ -x "$light" ] && return 0
    target=$(uname -m)-unknown-linux-musl
    if ! command -v rustup >/dev/null 2>&1 ||
        ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        printf 'tsm: supervisors run as tsm-native; for the lighter musl build: rustup target add %s, then tsm setup\n' "$target"
        return 0
    fi
    printf 'tsm: building the light supervisor (cargo build --release --target %s)\n' "$target"
    (cd "$_tsm_r" && cargo build --release --quiet --target "$target") || {
        printf 'tsm: the light supervisor did not build; supervisors run as tsm-native\n' >&2
        return 0
    }
    built=$_tsm_r/target/$target/release/tsm-native
    if [ "$("$built" supervise --build 2>/dev/null)" != "$build" ]; then
        printf 'tsm: the light supervisor is not build %s (the sources changed?): cargo build --release, then tsm setup\n' "$build" >&2
        return 0
    fi
    rm -f "$_tsm_r"/target/release/tsm-supervisor-*
    if ! { cp "$built" "$light.tmp" && mv -f "$light.tmp" "$light"; }; then
        printf 'tsm: could not install %s\n' "$light" >&2
        return 0
    fi
    printf 'tsm: supervisors run as %s\n' "$light"
}

# tsm setup: links the executable shell/tsm as ~/.local/bin/tsm (the folder systemd and XDG
# name for a user's commands), so /bin/sh, make, cron and CI find `tsm`; says what to add to
# the profile when that folder is not on PATH. Never replaces a file it did not make.
_tsm_setup_link() {
    local _tsm_r exe bindir link now
    _tsm_root
    exe=$_tsm_r/shell/tsm
    if [ -z "${HOME:-}" ]; then
        printf 'tsm: HOME is not set; to run tsm from scripts, link %s into a folder on PATH\n' "$exe"
        return 0
    fi
    if [ ! -x "$exe" ]; then
        printf 'tsm: %s is missing or not executable; the tsm command was not linked\n' "$exe" >&2
        return 0
    fi
    bindir=$HOME/.local/bin
    link=$bindir/tsm
    if [ -L "$link" ]; then
        now=$(readlink "$link")
        if [ "$now" != "$exe" ]; then
            # A link to another checkout's tsm: this checkout is the one being set up.
            case $now in
                */shell/tsm) rm -f "$link" ;;
            esac
        fi
    fi
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$exe" ]; then
        printf 'tsm: command %s -> %s\n' "$link" "$exe"
    elif [ -e "$link" ] || [ -L "$link" ]; then
        printf 'tsm: %s exists and is not tsm'"'"'s; left as it is (remove it and run tsm setup again to link %s)\n' "$link" "$exe" >&2
        return 0
    elif mkdir -p "$bindir" && ln -s "$exe" "$link"; then
        printf 'tsm: linked %s -> %s (the tsm command for scripts, make and cron)\n' "$link" "$exe"
    else
        printf 'tsm: cannot link %s\n' "$link" >&2
        return 0
    fi
    case ":$PATH:" in
        *":$bindir:"* | *":$bindir/:"*) ;;
        *)
            # shellcheck disable=SC2016 # the line to add, written as the user will type it
            printf 'tsm: %s is not on PATH; add this line to %s:\n  export PATH="$HOME/.local/bin:$PATH"\n' \
                "$bindir" "$(_tsm_profile_file 2>/dev/null || printf '%s' "your shell's startup file")"
            ;;
    esac
}

# Prints the shell startup file tsm setup --profile writes to (see _tsm_setup_profile).
_tsm_profile_file() {
    if [ -n "${PROFILE:-}" ]; then
        printf '%s\n' "$PROFILE"
    elif [ -z "${HOME:-}" ]; then
        return 1
    else
        case ${SHELL:-} in
            *zsh) printf '%s\n' "$HOME/.zshrc" ;;
            *)
                if [ "$(uname -s 2>/dev/null)" = Darwin ] ||
                    { [ ! -e "$HOME/.bashrc" ] && [ -e "$HOME/.bash_profile" ]; }; then
                    printf '%s\n' "$HOME/.bash_profile"
                else
                    printf '%s\n' "$HOME/.bashrc"
                fi
                ;;
        esac
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
    file=$(_tsm_profile_file) || {
        printf 'tsm: HOME is not set; choose the file with PROFILE=FILE tsm setup --profile\n' >&2
        return 1
    }
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

# On macOS, util-linux from Homebrew is keg-only: when it is installed at a usual Homebrew
# prefix and setsid is not on PATH, append its bin (never prepended: it would shadow macOS's
# getopt, column, hexdump, logger, uuidgen). Never runs brew: this runs at every shell start.
# tsm itself never needs it (tsm-native calls setsid(2) itself); it is for users' scripts.
_tsm_macos_path() {
    local prefix
    [ "$(uname -s 2>/dev/null)" = Darwin ] || return 0
    command -v setsid >/dev/null 2>&1 && return 0
    for prefix in /opt/homebrew/opt/util-linux /usr/local/opt/util-linux; do
        if [ -x "$prefix/bin/setsid" ]; then
            PATH=$PATH:$prefix/bin
            export PATH
            return 0
        fi
    done
}
_tsm_macos_path

# The tsm command until tsm-native's own replaces it (_tsm_load, below and after `tsm
# setup`): setup, the usage, and every other command handed to tsm-native when there is one.
tsm() {
    local _tsm_b
    case "${1-}" in
        setup)
            shift
            _tsm_setup "$@"
            return
            ;;
        "" | help | -h | --help)
            if [ "${1-}" = help ] && [ "${2-}" = setup ]; then
                _tsm_setup_usage
                return 0
            fi
            if ! _tsm_find_bin 2>/dev/null; then
                _tsm_usage
                return 0
            fi
            # `tsm help CMD` is `tsm CMD --help`; bare `tsm` is `tsm help`.
            [ $# -eq 0 ] && set -- help
            ;;
    esac
    _tsm_find_bin || return 1
    "$_tsm_b" "$@"
}

# Loads tsm-native's shell integration (`tsm-native init bash`, or zsh in zsh): its tsm
# function and completion replace the one above. Nothing changes when there is no binary, or
# it prints no integration (one older than `init`).
_tsm_load() {
    local _tsm_b _tsm_code _tsm_shell=bash
    [ -z "${ZSH_VERSION:-}" ] || _tsm_shell=zsh
    _tsm_find_bin 2>/dev/null || return 0
    _tsm_code=$("$_tsm_b" init "$_tsm_shell" 2>/dev/null) || return 0
    case $_tsm_code in
        "# tsm shell integration "*) eval "$_tsm_code" ;;
    esac
}
_tsm_load
