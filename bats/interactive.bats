#!/usr/bin/env bats
# The interactive side of the shim: bash completion of the tsm function (tsm-native's, loaded
# by the shim; registered only in an interactive bash; process names from `tsm-native list
# --names`) and `tsm setup --profile`.

load test_helper
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

# complete_words WORD...: runs the completion function for the command line WORD... (the last
# word is the one being completed) and prints the candidates, one a line.
complete_words() {
    local COMP_WORDS COMP_CWORD COMP_LINE COMP_POINT COMPREPLY
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _tsm_complete
    if [ "${#COMPREPLY[@]}" -gt 0 ]; then
        printf '%s\n' "${COMPREPLY[@]}"
    fi
}

@test "an interactive bash that sources the shim completes tsm" {
    run --separate-stderr clean_bash -i -c 'source "$1" && complete -p tsm' _ "$SHIM"
    [ "$status" -eq 0 ]
    [ "$output" = "complete -o default -F _tsm_complete tsm" ]
}

@test "a script that sources the shim registers no completion" {
    run clean_bash -c 'source "$1" && complete -p tsm' _ "$SHIM"
    [ "$status" -ne 0 ]
}

@test "tsm st<TAB> offers the commands that start with st" {
    source "$SHIM"
    run complete_words tsm st
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'start\nstartOrRestart\nstartOrReload\nstartOrGracefulReload\nstop\nstatus\nstartup')" ]
    run complete_words tsm sc
    [ "$output" = scale ]

    run complete_words tsm ""
    for word in setup start stop restart delete list ls logs repl startup completions help \
        init scale reload export jlist reset status show monit del startOrRestart reloadLogs; do
        grep -qx "$word" <<<"$output" || { echo "missing $word"; false; }
    done
    [ -z "$(grep -x supervise <<<"$output")" ]
}

@test "tsm stop <TAB> offers the names of real services" {
    local port1 port2
    { read -r port1 && read -r port2; } < <(free_ports 2)
    make_service "$TEST_DIR/api.sh" "$port1"
    make_service "$TEST_DIR/web.sh" "$port2"
    source "$SHIM"
    tsm start "$TEST_DIR/api.sh" >/dev/null 3>&-
    tsm start "$TEST_DIR/web.sh" >/dev/null 3>&-

    run complete_words tsm stop ""
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'api-%s\nweb-%s' "$port1" "$port2")" ]
    for command in restart delete logs describe flush reload del show reset; do
        run complete_words tsm "$command" w
        [ "$output" = "web-$port2" ]
    done
    # Further targets too.
    run complete_words tsm stop "api-$port1" ""
    [ "${#lines[@]}" -eq 2 ]
}

@test "completion offers options, shells, init systems and nothing for start's file" {
    source "$SHIM"
    run complete_words tsm logs --li
    [ "$output" = "--lines" ]
    run complete_words tsm logs --la
    [ "$output" = "--last-run" ]
    run complete_words tsm setup ""
    [ "$output" = "--profile" ]
    run complete_words tsm completions z
    [ "$output" = "zsh" ]
    run complete_words tsm startup ""
    [ "$output" = "$(printf 'systemd\nlaunchd')" ]
    # Empty, so that bash falls back to file names (-o default).
    run complete_words tsm start ex
    [ -z "$output" ]
}

@test "the completion function leaves no variable behind" {
    run clean_bash -c '
        source "$1"
        COMP_WORDS=(tsm stop "") COMP_CWORD=2 COMPREPLY=()
        before= after=
        before=$(compgen -v)
        _tsm_complete
        COMP_WORDS=(tsm logs --l) COMP_CWORD=2
        _tsm_complete
        COMP_WORDS=(tsm st) COMP_CWORD=1
        _tsm_complete
        after=$(compgen -v)
        [ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after")
    ' _ "$SHIM"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "tsm setup --profile adds the source line to ~/.bashrc once" {
    local line="source $REPO_ROOT/shell/tsm.sh"
    source "$SHIM"
    printf 'export EDITOR=vi' >"$HOME/.bashrc" # no newline at the end
    SHELL=/bin/bash run --separate-stderr tsm setup --profile
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "${lines[${#lines[@]}-2]}" = "tsm: added to $HOME/.bashrc: $line" ]
    [ "$(head -n 1 "$HOME/.bashrc")" = "export EDITOR=vi" ]
    [ "$(tail -n 1 "$HOME/.bashrc")" = "$line" ]
    [ "$(grep -cxF "$line" "$HOME/.bashrc")" -eq 1 ]

    # Again: nothing changes, and it says so.
    cp "$HOME/.bashrc" "$TEST_DIR/before"
    SHELL=/bin/bash run tsm setup --profile
    [ "$status" -eq 0 ]
    [ "${lines[${#lines[@]}-1]}" = "tsm: $HOME/.bashrc already sources $REPO_ROOT/shell/tsm.sh; nothing changed" ]
    cmp "$HOME/.bashrc" "$TEST_DIR/before"

    # The profile it wrote works: a login shell that reads it has tsm.
    run env -i HOME="$HOME" TETRA_DIR="$TETRA_DIR" TSM_NATIVE="$TSM_NATIVE" PATH="$PATH" \
        "$BASH" -c 'source "$HOME/.bashrc" && tsm list --names && type -t tsm'
    [ "$status" -eq 0 ]
    [ "$output" = "function" ]
}

@test "tsm setup --profile picks the file as rbenv does" {
    source "$SHIM"
    # zsh: ~/.zshrc
    SHELL=/usr/bin/zsh run tsm setup --profile
    [ "$status" -eq 0 ]
    grep -qxF "source $REPO_ROOT/shell/tsm.sh" "$HOME/.zshrc"
    [ ! -e "$HOME/.bashrc" ]

    # bash with only ~/.bash_profile: that file.
    touch "$HOME/.bash_profile"
    SHELL=/bin/bash run tsm setup --profile
    [ "$status" -eq 0 ]
    grep -qF "shell/tsm.sh" "$HOME/.bash_profile"
    [ ! -e "$HOME/.bashrc" ]

    # bash on macOS: ~/.bash_profile even when ~/.bashrc exists.
    rm "$HOME/.bash_profile"
    touch "$HOME/.bashrc"
    stub uname 'echo Darwin'
    SHELL=/bin/bash run tsm setup --profile
    [ "$status" -eq 0 ]
    grep -qF "shell/tsm.sh" "$HOME/.bash_profile"
    [ ! -s "$HOME/.bashrc" ]
}

@test "PROFILE chooses the file, and PROFILE=/dev/null changes none" {
    source "$SHIM"
    PROFILE=/dev/null SHELL=/bin/bash run tsm setup --profile
    [ "$status" -eq 0 ]
    [[ "$output" == *"PROFILE=/dev/null: no profile changed"* ]]
    [ ! -e "$HOME/.bashrc" ]
    [ ! -e "$HOME/.bash_profile" ]
    [ ! -e "$HOME/.zshrc" ]

    PROFILE=$TEST_DIR/my.profile run tsm setup --profile
    [ "$status" -eq 0 ]
    [ "$(tail -n 1 "$TEST_DIR/my.profile")" = "source $REPO_ROOT/shell/tsm.sh" ]
    [ ! -e "$HOME/.bashrc" ]

    PROFILE=$TEST_DIR/missing/dir/profile run --separate-stderr tsm setup --profile
    [ "$status" -eq 1 ]
    [ "$stderr" = "tsm: cannot write $TEST_DIR/missing/dir/profile" ]

    run --separate-stderr tsm setup --prfile
    [ "$status" -eq 64 ]
    [ "$stderr" = "tsm: setup: unknown argument '--prfile' (usage: tsm setup [--profile])" ]
}
