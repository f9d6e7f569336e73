#!/usr/bin/env bats
# The shim itself: what sourcing defines, where it finds tsm-native, and how it hands
# commands over.

load test_helper
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# Variables that bash itself changes as commands run; everything else must stay the same.
VOLATILE='^(declare -[-a-zA-Z]+ )?(_|BASH_ARGC|BASH_ARGV|BASH_LINENO|BASH_SOURCE|BASH_COMMAND|BASH_SUBSHELL|BASHPID|FUNCNAME|LINENO|PIPESTATUS|RANDOM|SRANDOM|SECONDS|EPOCHREALTIME|EPOCHSECONDS|COLUMNS|LINES|OLDPWD)(=|$)'

@test "sourcing defines the tsm function" {
    # shellcheck source=../shell/tsm.sh
    source "$SHIM"
    [ "$(type -t tsm)" = function ]
}

@test "sourcing defines only tsm and _tsm_* functions and no variables" {
    local snap=$TEST_DIR/snap
    mkdir "$snap"
    # A clean shell (no startup files, empty environment) snapshots its variables and
    # functions before and after sourcing.
    run env -i HOME="$HOME" PATH="$PATH" TETRA_DIR="$TETRA_DIR" \
        "$BASH" --noprofile --norc -c '
        true | true
        compgen -v >"$1/names.before"; declare -p >"$1/values.before"
        compgen -A function >"$1/funcs.before"
        source "$2" || exit 9
        true | true
        compgen -v >"$1/names.after"; declare -p >"$1/values.after"
        compgen -A function >"$1/funcs.after"
    ' _ "$snap" "$SHIM"
    [ "$status" -eq 0 ]
    [ -z "$output" ]

    run diff <(grep -Ev "$VOLATILE" "$snap/names.before") <(grep -Ev "$VOLATILE" "$snap/names.after")
    [ "$status" -eq 0 ] || { echo "new or removed variables: $output"; false; }
    run diff <(grep -Ev "$VOLATILE" "$snap/values.before") <(grep -Ev "$VOLATILE" "$snap/values.after")
    [ "$status" -eq 0 ] || { echo "changed variables: $output"; false; }

    run comm -13 <(sort "$snap/funcs.before") <(sort "$snap/funcs.after")
    [ "$status" -eq 0 ]
    echo "new functions: $output"
    grep -qx tsm <<<"$output"
    run grep -Evx 'tsm|_tsm_[A-Za-z0-9_]+' <<<"$output"
    [ "$status" -eq 1 ]
}

@test "sourcing and using tsm work under set -u (and set -euo pipefail)" {
    run clean_bash -c 'set -u; source "$1"; tsm list >/dev/null && tsm help >/dev/null && tsm >/dev/null && echo ok' _ "$SHIM"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]

    run clean_bash -c 'set -euo pipefail; source "$1"; tsm list | grep -q status; tsm ports; echo ok' _ "$SHIM"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]

    # Under set -u with TSM_NATIVE unset: the checkout's build is found instead.
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    run env -u TSM_NATIVE "$BASH" --noprofile --norc -c 'set -u; source "$1"; tsm list' _ "$co/shell/tsm.sh"
    [ "$status" -eq 0 ]
    [ "$output" = "debug [list]" ]
}

@test "works from bash -c" {
    run clean_bash -c 'source "$1" && type -t tsm && tsm list' _ "$SHIM"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = function ]
    [[ "${lines[2]}" == *id*name*status*pid*port*uptime* ]]
}

@test "tsm, tsm help, -h and --help print the usage and exit 0" {
    source "$SHIM"
    local arg
    for arg in "" help -h --help; do
        if [ -z "$arg" ]; then
            run --separate-stderr tsm
        else
            run --separate-stderr tsm "$arg"
        fi
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "tsm - Tetra Service Manager" ]
        [[ "$output" == *"Usage: tsm <command> [arguments]"* ]]
        for word in setup start stop restart delete "list, ls" ports logs flush describe doctor \
            save resurrect repl startup unstartup completions help; do
            grep -qE "^  $word( |,|$)" <<<"$output" || { echo "missing: $word"; false; }
        done
        [ -z "$stderr" ]
    done
}

@test "tsm help groups every command; tsm help CMD is tsm CMD --help" {
    source "$SHIM"
    run --separate-stderr tsm help
    [ "$status" -eq 0 ]
    for group in Services: Logs: State: Shell: Diagnostics:; do
        grep -qx "$group" <<<"$output" || { echo "missing group $group"; false; }
    done
    [[ "$output" == *"Ecosystem files:"* ]]
    [[ "$output" != *tsm-native* ]]

    local help_start start_help
    help_start=$(tsm help start)
    start_help=$(tsm start --help)
    [ "$help_start" = "$start_help" ]
    [[ "$help_start" == *"Usage: tsm start "* ]]
    [[ "$help_start" != *tsm-native* ]]
    # setup is the shim's own command.
    run tsm help setup
    [ "$status" -eq 0 ]
    grep -qx "Usage: tsm setup \[--profile\]" <<<"$output"
    [ "$(tsm setup --help)" = "$output" ]
}

@test "misspelt commands and flags suggest the nearest; each command takes only its own flags" {
    source "$SHIM"
    run --separate-stderr tsm strat x.sh
    [ "$status" -eq 64 ]
    [ "$stderr" = "tsm: unrecognized subcommand 'strat' (did you mean 'start'?)" ]
    run --separate-stderr tsm stop x --kill-timeot 1s
    [ "$status" -eq 64 ]
    [ "$stderr" = "tsm: unexpected argument '--kill-timeot' found (did you mean '--kill-timeout'?)" ]
    run --separate-stderr tsm stop x --keep-env
    [ "$status" -eq 64 ]
    [ "$stderr" = "tsm: unexpected argument '--keep-env' found" ]
    run tsm stop --help
    [[ "$output" != *--keep-env* && "$output" != *--wait* ]]
    run tsm restart --help
    [[ "$output" == *--keep-env* && "$output" == *--wait* && "$output" != *--kill-port* ]]
}

@test "usage needs no tsm-native" {
    local co=$TEST_DIR/checkout bin=$TEST_DIR/minbin
    make_checkout "$co"
    make_min_path "$bin" dirname uname cat
    run env -u TSM_NATIVE PATH="$bin" "$BASH" --noprofile --norc -c \
        'source "$1" && tsm help' _ "$co/shell/tsm.sh"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "tsm - Tetra Service Manager" ]
}

@test "the checkout's target/debug build is used when TSM_NATIVE is unset; arguments pass unchanged" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    unset TSM_NATIVE
    source "$co/shell/tsm.sh"

    run --separate-stderr tsm start "my script.sh" "two  spaces" "" -- --flag="a b" '*' '$HOME'
    [ "$status" -eq 0 ]
    [ "$output" = 'debug [start][my script.sh][two  spaces][][--][--flag=a b][*][$HOME]' ]
    [ -z "$stderr" ]

    run tsm ls
    [ "$output" = "debug [ls]" ]
}

@test "tsm returns tsm-native's exit status" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    unset TSM_NATIVE
    source "$co/shell/tsm.sh"

    FAKE_EXIT=7 run tsm list
    [ "$status" -eq 7 ]
    [ "$output" = "debug [list]" ]
    FAKE_EXIT=0 run tsm list
    [ "$status" -eq 0 ]

    # Also seen by `if` and `||` in the caller's shell, not only by `run`.
    export FAKE_EXIT=3
    if tsm stop x >/dev/null; then false; fi
    tsm stop x >/dev/null || [ "$?" -eq 3 ]
}

@test "target/release is preferred over target/debug" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    fake_native "$co/target/release/tsm-native" release
    unset TSM_NATIVE
    source "$co/shell/tsm.sh"
    run tsm list
    [ "$output" = "release [list]" ]
}

@test "TSM_NATIVE wins over the checkout's build" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/release/tsm-native" release
    fake_native "$TEST_DIR/elsewhere/tsm-native" elsewhere
    source "$co/shell/tsm.sh"
    TSM_NATIVE=$TEST_DIR/elsewhere/tsm-native run tsm list "a b"
    [ "$output" = "elsewhere [list][a b]" ]
    unset TSM_NATIVE
    run tsm list
    [ "$output" = "release [list]" ]
}

@test "the checkout is remembered when sourced by a relative path, from any later directory" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    mkdir "$TEST_DIR/other"
    run env -u TSM_NATIVE "$BASH" --noprofile --norc -c \
        'cd "$1" && source checkout/shell/tsm.sh && cd "$2" && tsm list' _ "$TEST_DIR" "$TEST_DIR/other"
    [ "$status" -eq 0 ]
    [ "$output" = "debug [list]" ]
}

@test "a relative source path is resolved without CDPATH" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    mkdir -p "$TEST_DIR/decoy/checkout/shell"
    run env -u TSM_NATIVE CDPATH="$TEST_DIR/decoy" "$BASH" --noprofile --norc -c \
        'cd "$1" && source checkout/shell/tsm.sh && tsm list' _ "$TEST_DIR"
    [ "$status" -eq 0 ]
    [ "$output" = "debug [list]" ]
}

@test "sourcing loads tsm-native's integration (tsm-native init bash), whose tsm hands over" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    run env -u TSM_NATIVE "$BASH" --noprofile --norc -c '
        source "$1" || exit 9
        type -t _tsm_complete
        type tsm | grep -c _tsm_bin
        tsm list "a b"' _ "$co/shell/tsm.sh"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'function\n1\ndebug [list][a b]')" ]
}

@test "a tsm-native older than init: the shim's own tsm still hands every command over" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    old_native "$co/target/debug/tsm-native" old
    unset TSM_NATIVE
    source "$co/shell/tsm.sh"
    [ "$(type -t tsm)" = function ]
    [ -z "$(type -t _tsm_complete)" ]
    run --separate-stderr tsm start "my script.sh" "" -- '*'
    [ "$status" -eq 0 ]
    [ "$output" = 'old [start][my script.sh][][--][*]' ]
    [ -z "$stderr" ]
    FAKE_EXIT=7 run tsm list
    [ "$status" -eq 7 ]
    run tsm
    [ "$output" = "old [help]" ]
    run tsm help setup
    grep -qx "Usage: tsm setup \[--profile\]" <<<"$output"
}

@test "tsm-native on PATH is used when the checkout has no build" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$STUBS/tsm-native" on-path
    unset TSM_NATIVE
    source "$co/shell/tsm.sh"
    run tsm list
    [ "$output" = "on-path [list]" ]
}

@test "no tsm-native anywhere: tsm list fails with a hint to run tsm setup" {
    local co=$TEST_DIR/checkout bin=$TEST_DIR/minbin
    make_checkout "$co"
    make_min_path "$bin" dirname uname
    run ! env PATH="$bin" "$BASH" --noprofile --norc -c 'command -v cargo || command -v tsm-native'
    run --separate-stderr env -u TSM_NATIVE PATH="$STUBS:$bin" "$BASH" --noprofile --norc -c \
        'source "$1" && tsm list' _ "$co/shell/tsm.sh"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "tsm: tsm-native not found; run: tsm setup" ]
}

@test "a symlinked tsm.sh finds the checkout it points into" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    mkdir -p "$TEST_DIR/home"
    ln -s "$co/shell/tsm.sh" "$TEST_DIR/home/tsm.sh"
    run env -u TSM_NATIVE "$BASH" --noprofile --norc -c \
        'source "$1" && tsm list' _ "$TEST_DIR/home/tsm.sh"
    [ "$status" -eq 0 ]
    [ "$output" = "debug [list]" ]
}

@test "a TSM_NATIVE that is not executable is a clear error" {
    run env TSM_NATIVE="$TEST_DIR/nope" "$BASH" --noprofile --norc -c \
        'source "$1" && tsm list' _ "$SHIM"
    [ "$status" -eq 1 ]
    [[ "$output" == *"tsm: TSM_NATIVE=$TEST_DIR/nope is not an executable file"* ]]
}

@test "the shim works when sourced from zsh" {
    if ! command -v zsh >/dev/null 2>&1; then
        [ -z "${CI:-}" ] || false # CI installs zsh: there, missing is a failure
        skip "zsh is not installed"
    fi
    run env TETRA_DIR="$TEST_DIR/state" zsh -f -c \
        'cd / && source "$1" && tsm stop nope; echo "rc=$?"' _ "$SHIM"
    [ "$status" -eq 0 ]
    [[ "$output" == *"tsm: process 'nope' not found"* ]]
    [[ "$output" == *"rc=1"* ]]
}
