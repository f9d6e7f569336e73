#!/usr/bin/env bats
# Completion of `tsm`: one source, generated from tsm-native's commands, loaded by the shim
# (`tsm-native init`) or by `tsm completions bash|zsh|fish`, driven through each shell's real
# completion machinery; never offering less than the shim's old hand-written completion; and
# never running code hidden in a file name in the state folder.

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

# Every spelling of every command, pm2's hidden ones too (not the internal `supervise`).
ALL_COMMANDS="setup start stop restart delete del list ls ports logs flush describe why metrics save
    resurrect doctor repl monit startup unstartup completions init help export scale reload
    status show reset jlist startOrRestart startOrReload reloadLogs startOrGracefulReload
    desc info l ps dump env pid sendSignal send-signal prettylist ping kill serve runtime"

@test "bash: tsm completions bash completes commands, options, values and live names" {
    eval "$(tsm completions bash)"
    [ "$(complete -p tsm)" = "complete -o default -F _tsm_complete tsm" ]
    run complete_with _tsm_complete tsm st
    [ "$output" = "$(printf 'start\nstartOrRestart\nstartOrReload\nstartOrGracefulReload\nstop\nstatus\nstartup')" ]
    run complete_with _tsm_complete tsm ""
    for word in $ALL_COMMANDS; do
        grep -qx "$word" <<<"$output" || { echo "missing $word"; false; }
    done
    [[ "$output" != *supervise* ]]
    run complete_with _tsm_complete tsm stop ""
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    run complete_with _tsm_complete tsm logs w
    [ "$output" = "web-$P2" ]
    run complete_with _tsm_complete tsm restart "api-$P1" ""
    [ "${#lines[@]}" -eq 2 ]
    # Each command's own options.
    run complete_with _tsm_complete tsm restart --k
    [ "$output" = "$(printf -- '--kill-timeout\n--keep-env')" ]
    run complete_with _tsm_complete tsm stop --k
    [ "$output" = "$(printf -- '--kill-timeout\n--kill-port')" ]
    run complete_with _tsm_complete tsm setup --p
    [ "$output" = "--profile" ]
    # Fixed values; nothing (so bash completes file names) for files and free values.
    run complete_with _tsm_complete tsm completions z
    [ "$output" = zsh ]
    run complete_with _tsm_complete tsm init f
    [ "$output" = fish ]
    run complete_with _tsm_complete tsm help sta
    [ "$output" = "$(printf 'start\nstartOrRestart\nstartOrReload\nstartOrGracefulReload\nstatus\nstartup')" ]
    run complete_with _tsm_complete tsm start ex
    [ -z "$output" ]
    run complete_with _tsm_complete tsm stop --kill-timeout ""
    [ -z "$output" ]
}

@test "bash: sc<TAB> is scale; reload, aliases and pm2's spellings complete services' names" {
    local p3
    p3=$(free_port)
    make_service clock.sh "$p3"
    "$TSM_NATIVE" start clock.sh >/dev/null 3>&-
    local load
    for load in 'source "$SHIM"' 'eval "$(tsm completions bash)"'; do
        eval "$load"
        run complete_with _tsm_complete tsm sc
        [ "$output" = scale ] || { echo "$load: sc: $output"; false; }
        run complete_with _tsm_complete tsm startOr
        [ "$output" = "$(printf 'startOrRestart\nstartOrReload\nstartOrGracefulReload')" ]
        run complete_with _tsm_complete tsm reloadL
        [ "$output" = reloadLogs ]
        local command
        for command in reload del show reset describe; do
            run complete_with _tsm_complete tsm "$command" cl
            [ "$output" = "clock-$p3" ] || { echo "$load: $command cl: $output"; false; }
        done
        run complete_with _tsm_complete tsm reload "clock-$p3" ""
        [ "${#lines[@]}" -eq 3 ]
        run complete_with _tsm_complete tsm ls --n
        [ "$output" = --names ]
        # (--on also begins the hooks' --on-start … --on-stop)
        run complete_with _tsm_complete tsm startOrRestart --onl
        [ "$output" = --only ]
    done
}

# What the shim's hand-written completion offered (before tsm-native printed its own), as
# `LINE => CANDIDATES` with the services api-P1 and web-P2: the completion offers at least that.
SHIM_OFFERED='s => setup start stop save startup
l => list ls logs
stop a => api-P1
restart w => web-P2
delete a => api-P1
logs a => api-P1
describe w => web-P2
flush a => api-P1
logs --l => --lines
start --p => --port --procfile
restart --w => --wait --wait-timeout
setup --p => --profile
completions f => fish
startup s => systemd
unstartup l => launchd
stop "" => api-P1 web-P2
"" => setup start stop restart delete list ls ports logs flush describe save resurrect doctor repl monit startup unstartup completions help'

@test "bash: the completion never offers less than the shim's old hand-written one" {
    local load entry line want offered missing
    for load in 'source "$SHIM"' 'eval "$(tsm completions bash)"'; do
        eval "$load"
        while IFS= read -r entry; do
            line=${entry%% => *}
            want=${entry#* => }
            want=${want//P1/$P1}
            want=${want//P2/$P2}
            # shellcheck disable=SC2086 # a command line, split on purpose ("" is an empty word)
            eval "offered=\$(complete_with _tsm_complete tsm $line)"
            # shellcheck disable=SC2086 # the candidates, one a word
            missing=$(comm -23 <(printf '%s\n' $want | sort -u) <(sort -u <<<"$offered"))
            [ -z "$missing" ] || { printf '%s: tsm %s lacks:\n%s\n' "$load" "$line" "$missing"; false; }
        done <<<"$SHIM_OFFERED"
    done
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
    run complete_with _tsm_complete tsm stop ""
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
    source "$SHIM"
    TSM_NATIVE=$TEST_DIR/hostile-native run complete_with _tsm_complete tsm stop ""
    [ "$output" = ok-1 ]
    eval "$(tsm completions bash)"
    TSM_NATIVE=$TEST_DIR/hostile-native run complete_with _tsm_complete tsm stop ""
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
    run fish --no-config -c "source '$script'; complete -C 'tsm sc'"
    [ "$(cut -f1 <<<"$output")" = scale ]
    run fish --no-config -c "source '$script'; complete -C 'tsm del '"
    [ "$(cut -f1 <<<"$output")" = "$(printf 'api-%s\nweb-%s' "$P1" "$P2")" ]
    run fish --no-config -c "source '$script'; complete -C 'tsm reload w'"
    [ "$(cut -f1 <<<"$output")" = "web-$P2" ]
}

@test "fish: tsm-native init fish defines tsm, with tsm-native's exit status, and its completion" {
    if ! command -v fish >/dev/null 2>&1; then
        [ -z "${CI:-}" ] || false # CI installs fish: there, missing is a failure
        skip "fish is not installed"
    fi
    local script=$TEST_DIR/init.fish
    "$TSM_NATIVE" init fish >"$script"
    # No tsm on PATH and no TSM_NATIVE: the function runs the tsm-native that printed it.
    run env -u TSM_NATIVE PATH=/usr/bin:/bin fish --no-config -c "source '$script'
        tsm list --names; echo \"rc=\$status\"
        tsm stop nope; echo \"rc=\$status\"
        tsm bogus 2>/dev/null; echo \"rc=\$status\"
        complete -C 'tsm sc'"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "api-$P1" ]
    [ "${lines[1]}" = "web-$P2" ]
    [ "${lines[2]}" = rc=0 ]
    [ "${lines[3]}" = "tsm: process 'nope' not found" ]
    [ "${lines[4]}" = rc=1 ]
    [ "${lines[5]}" = rc=64 ]
    [[ "${lines[6]}" == scale* ]]
    [ "${#lines[@]}" -eq 7 ]
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
    tmux -S "$TMUX_SOCK" send-keys -t z C-u
    tmux -S "$TMUX_SOCK" send-keys -t z -l "tsm sc"
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has 'tsm scale$'
}

@test "zsh: the shim sourced after compinit loads tsm-native init zsh: the function and completion" {
    if ! command -v zsh >/dev/null 2>&1 || ! command -v tmux >/dev/null 2>&1; then
        [ -z "${CI:-}" ] || false # CI installs zsh and tmux
        skip "zsh or tmux is not installed"
    fi
    TMUX_SOCK=$TEST_DIR/tmux.sock
    # No tsm on PATH: what completes and runs is the function.
    rm "$TEST_DIR/bin/tsm"
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s z -x 160 -y 40 \
        "env -i HOME=$TEST_DIR TERM=xterm PATH=$PATH TETRA_DIR=$TETRA_DIR TSM_NATIVE=$TSM_NATIVE zsh -f -i" 3>&-
    tmux -S "$TMUX_SOCK" send-keys -t z -l \
        "autoload -Uz compinit && compinit -u && source $SHIM && whence -w tsm && tsm stop nope; echo rc=\$?"
    tmux -S "$TMUX_SOCK" send-keys -t z Enter
    wait_until 10 screen_has '^rc=1$'
    screen_has '^tsm: function$'
    screen_has "^tsm: process 'nope' not found$"
    tmux -S "$TMUX_SOCK" send-keys -t z -l "tsm reload w"
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has "tsm reload web-$P2\$"
    tmux -S "$TMUX_SOCK" send-keys -t z C-u
    tmux -S "$TMUX_SOCK" send-keys -t z -l "tsm startOrRel"
    tmux -S "$TMUX_SOCK" send-keys -t z Tab
    wait_until 10 screen_has 'tsm startOrReload$'
}

# screen_has REGEX: a line of the tmux pane matches REGEX.
screen_has() {
    tmux -S "$TMUX_SOCK" capture-pane -p -t z | grep -qE -- "$1"
}
