#!/usr/bin/env bats
# Completion of `tsm`: the script of `tsm completions bash|zsh|fish`, driven through each
# shell's real completion machinery, never worse than the shim's own; and completion never
# running code hidden in a file name in the state folder.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
    common_setup
    cd "$TEST_DIR" || return 1
    # The executable on PATH, as `tsm setup` leaves it (fish and zsh have no tsm function).
    mkdir -p "$TEST_DIR/bin"
    ln -s "$REPO_ROOT/shell/tsm" "$TEST_DIR/bin/tsm"
    PATH=$TEST_DIR/bin:$PATH
    { read -r P1 && read -r P2; } < <(free_ports 2)
    make_service api.sh "$P1"
    make_service web.sh "$P2"
    "$TSM_NATIVE" start api.sh >/dev/null 3>&-
    "$TSM_NATIVE" start web.sh >/dev/null 3>&-
}

teardown() {
    if [ -n "${TMUX_SOCK:-}" ]; then
        tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    fi
    common_teardown
}

# complete_with FUNCTION WORD...: runs a bash completion FUNCTION for the command line WORD...
# (the last word is the one being completed); prints the candidates, one a line.
complete_with() {
    local COMP_WORDS COMP_CWORD COMP_LINE COMP_POINT COMPREPLY fn=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    "$fn"
    if [ "${#COMPREPLY[@]}" -gt 0 ]; then
        printf '%s\n' "${COMPREPLY[@]}"
    fi
}

@test "bash: tsm completions bash completes commands, options, values and live names" {
    eval "$(tsm completions bash)"
    [ "$(complete -p tsm)" = "complete -o default -F _tsm_cli tsm" ]
    run complete_with _tsm_cli tsm st
    [ "$output" = "$(printf 'start\nstartOrRestart\nstartOrReload\nstop\nstatus\nstartup')" ]
    run complete_with _tsm_cli tsm ""
    for word in setup start stop restart delete del list ls ports logs flush describe save \
        resurrect doctor repl startup unstartup completions help; do
        grep -qx "$word" <<<"$output" || { echo "missing $word"; false; }
    done
    [[ "$output" != *supervise* ]]
    run complete_with _tsm_cli tsm stop ""
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    run complete_with _tsm_cli tsm logs w
    [ "$output" = "web-$P2" ]
    run complete_with _tsm_cli tsm restart "api-$P1" ""
    [ "${#lines[@]}" -eq 2 ]
    # Each command's own options.
    run complete_with _tsm_cli tsm restart --k
    [ "$output" = "$(printf -- '--kill-timeout\n--keep-env')" ]
    run complete_with _tsm_cli tsm stop --k
    [ "$output" = "$(printf -- '--kill-timeout\n--kill-port')" ]
    run complete_with _tsm_cli tsm setup --p
    [ "$output" = "--profile" ]
    # Fixed values; nothing (so bash completes file names) for files and free values.
    run complete_with _tsm_cli tsm completions z
    [ "$output" = zsh ]
    run complete_with _tsm_cli tsm help sta
    [ "$output" = "$(printf 'start\nstartup')" ]
    run complete_with _tsm_cli tsm start ex
    [ -z "$output" ]
    run complete_with _tsm_cli tsm stop --kill-timeout ""
    [ -z "$output" ]
}

@test "bash: loading tsm completions bash never offers less than the shim" {
    source "$SHIM"
    eval "$(tsm completions bash)"
    local line shim generated missing
    while IFS= read -r line; do
        # shellcheck disable=SC2086 # a command line, split on purpose
        shim=$(complete_with _tsm_complete tsm $line)
        # shellcheck disable=SC2086
        generated=$(complete_with _tsm_cli tsm $line)
        missing=$(comm -23 <(sort -u <<<"$shim") <(sort -u <<<"$generated"))
        [ -z "$missing" ] || { printf 'tsm %s: the generated completion lacks:\n%s\n' "$line" "$missing"; false; }
    done <<'LINES'
s
l
stop a
restart w
delete a
logs a
describe w
flush a
logs --l
start --p
restart --w
setup --p
completions f
startup s
unstartup l
LINES
    # `tsm stop ""` and `tsm <TAB>` (an empty last word).
    [ -z "$(comm -23 <(complete_with _tsm_complete tsm stop "" | sort) <(complete_with _tsm_cli tsm stop "" | sort))" ]
    [ -z "$(comm -23 <(complete_with _tsm_complete tsm "" | sort) <(complete_with _tsm_cli tsm "" | sort))" ]
}

@test "completion never runs code hidden in a file name, and offers only valid names" {
    local dir=$TETRA_DIR/tsm/processes
    # shellcheck disable=SC2016 # the file names hold the code, unexpanded
    : >"$dir/\`touch pwned-backquote\`.meta"
    # shellcheck disable=SC2016
    : >"$dir/\$(touch pwned-dollar).meta"
    : >"$dir/a b.meta"
    : >"$dir/-rf.meta"
    run --separate-stderr "$TSM_NATIVE" list --names
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]

    source "$SHIM"
    run complete_with _tsm_complete tsm stop ""
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    eval "$(tsm completions bash)"
    run complete_with _tsm_cli tsm stop ""
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    [ ! -e pwned-backquote ] && [ ! -e pwned-dollar ]

    # Even from a tsm-native that printed them, neither completion runs or offers them.
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    {
        printf '#!%s\n' "$BASH"
        # shellcheck disable=SC2016
        printf '%s\n' 'printf "%s\n" "ok-1" "\`touch pwned-native\`" "\$(touch pwned-native2)" "x;y"'
    } >"$TEST_DIR/hostile-native"
    chmod +x "$TEST_DIR/hostile-native"
    TSM_NATIVE=$TEST_DIR/hostile-native run complete_with _tsm_complete tsm stop ""
    [ "$output" = ok-1 ]
    TSM_NATIVE=$TEST_DIR/hostile-native run complete_with _tsm_cli tsm stop ""
    [ "$output" = ok-1 ]
    [ ! -e pwned-native ] && [ ! -e pwned-native2 ]
}

@test "fish: tsm completions fish completes commands, options and live names" {
    if ! command -v fish >/dev/null 2>&1; then
        [ -z "${CI:-}" ] || false # CI installs fish: there, missing is a failure
        skip "fish is not installed"
    fi
    local script=$TEST_DIR/tsm.fish
    tsm completions fish >"$script"
    run fish --no-config -c "source '$script'; complete -C 'tsm sto'"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == stop* ]]
    run fish --no-config -c "source '$script'; complete -C 'tsm stop '"
    [ "$(cut -f1 <<<"$output")" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    run fish --no-config -c "source '$script'; complete -C 'tsm restart --ke'"
    [[ "$output" == --keep-env* ]]
    run fish --no-config -c "source '$script'; complete -C 'tsm stop --ke'"
    [ -z "$output" ]
    run fish --no-config -c "source '$script'; complete -C 'tsm completions z'"
    [ "$(cut -f1 <<<"$output")" = zsh ]
}

@test "zsh: tsm completions zsh completes commands and live names in a real zsh" {
    if ! command -v zsh >/dev/null 2>&1 || ! command -v tmux >/dev/null 2>&1; then
        [ -z "${CI:-}" ] || false # CI installs zsh and tmux
        skip "zsh or tmux is not installed"
    fi
    TMUX_SOCK=$TEST_DIR/tmux.sock
    tsm completions zsh >"$TEST_DIR/tsm.zsh"
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s z -x 160 -y 40 \
        "env -i HOME=$TEST_DIR TERM=xterm PATH=$PATH TETRA_DIR=$TETRA_DIR TSM_NATIVE=$TSM_NATIVE zsh -f -i" 3>&-
    tmux -S "$TMUX_SOCK" send-keys -t z -l \
        "autoload -Uz compinit && compinit -u && source $TEST_DIR/tsm.zsh && echo loaded-ok"
    tmux -S "$TMUX_SOCK" send-keys -t z Enter
    wait_until 10 screen_has '^loaded-ok'
    tmux -S "$TMUX_SOCK" send-keys -t z -l "tsm sto"
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has 'tsm stop$' # (the pane drops the blank after it)
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has "api-$P1"
    screen_has "web-$P2"
    tmux -S "$TMUX_SOCK" send-keys -t z C-u
    tmux -S "$TMUX_SOCK" send-keys -t z -l "tsm restart --ke"
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has 'tsm restart --keep-env$'
}

# screen_has REGEX: a line of the tmux pane matches REGEX.
screen_has() {
    tmux -S "$TMUX_SOCK" capture-pane -p -t z | grep -qE -- "$1"
}
