#!/usr/bin/env bats
# The executable `tsm` (shell/tsm, linked into ~/.local/bin by `tsm setup`): found by /bin/sh,
# make, cron and `env -i`, with the function's output and exit codes. The docs'
# Makefile and deploy.sh run verbatim.

load test_helper
bats_require_minimum_version 1.5.0

EXE=$BATS_TEST_DIRNAME/../shell/tsm

setup() {
    common_setup
    cd "$TEST_DIR"
    # The PATH cron gives a job, plus ~/.local/bin where `tsm setup` links the command.
    CRON_PATH=/usr/bin:/bin
}

teardown() {
    # A cron-style run has no TETRA_DIR: its services live in $HOME/tetra.
    if [ -d "$HOME/tetra/tsm" ]; then
        TETRA_DIR=$HOME/tetra "$REAL_TSM_NATIVE" delete '*' --kill-timeout 1s >/dev/null 2>&1 || true
    fi
    common_teardown
}

# server_script FILE PORT: a service that reads PORT from the environment with PORT as the
# default (docs/shell.md's examples, made to bind a free port), prints a line and sleeps.
server_script() {
    printf '#!/usr/bin/env bash\nPORT=${PORT:-%s}\nexport PORT\necho "serving on $PORT"\nexec sleep 300\n' \
        "$2" >"$1"
    chmod +x "$1"
}

# linked: runs `tsm setup` with the executable; prints nothing, fails if setup failed.
linked() {
    "$EXE" setup >"$TEST_DIR/setup.out" 2>"$TEST_DIR/setup.err" || {
        cat "$TEST_DIR/setup.out" "$TEST_DIR/setup.err"
        return 1
    }
}

@test "tsm setup links the executable into ~/.local/bin and says how to put it on PATH" {
    source "$SHIM"
    run --separate-stderr tsm setup
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ -L "$HOME/.local/bin/tsm" ]
    [ "$(readlink "$HOME/.local/bin/tsm")" = "$REPO_ROOT/shell/tsm" ]
    grep -qxF "tsm: linked $HOME/.local/bin/tsm -> $REPO_ROOT/shell/tsm (the tsm command for scripts, make and cron)" <<<"$output"
    grep -qxF "tsm: $HOME/.local/bin is not on PATH; add this line to $HOME/.bashrc:" <<<"$output"
    # shellcheck disable=SC2016 # the literal line the user is told to add
    grep -qxF '  export PATH="$HOME/.local/bin:$PATH"' <<<"$output"

    # Again, with the folder on PATH: the link is reported, nothing else to do.
    PATH=$HOME/.local/bin:$PATH run --separate-stderr tsm setup
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    grep -qxF "tsm: command $HOME/.local/bin/tsm -> $REPO_ROOT/shell/tsm" <<<"$output"
    [[ "$output" != *"not on PATH"* ]]

    # A file of the user's own at that place is never replaced.
    rm "$HOME/.local/bin/tsm"
    printf '#!/bin/sh\necho mine\n' >"$HOME/.local/bin/tsm"
    chmod +x "$HOME/.local/bin/tsm"
    run --separate-stderr tsm setup
    [ "$status" -eq 0 ]
    [[ "$stderr" == "tsm: $HOME/.local/bin/tsm exists and is not tsm's; left as it is"* ]]
    [ "$("$HOME/.local/bin/tsm")" = mine ]
}

@test "the executable gives the function's output and exit codes, setup and help included" {
    source "$SHIM"
    local args
    for args in "list" "stop nope" "strat" "" "help" "help start" "setup --bogus" "setup --help" \
        "start missing.sh" "completions bash"; do
        # shellcheck disable=SC2086 # split on purpose
        run --separate-stderr tsm $args
        local f_status=$status f_out=$output f_err=$stderr
        # shellcheck disable=SC2086
        run --separate-stderr "$EXE" $args
        [ "$status" -eq "$f_status" ] || { echo "$args: $status, function $f_status"; false; }
        [ "$output" = "$f_out" ] || { echo "$args: stdout differs"; false; }
        [ "$stderr" = "$f_err" ] || { echo "$args: stderr differs: $stderr"; false; }
    done
    run "$EXE" stop nope
    [ "$status" -eq 1 ]
    run "$EXE" strat
    [ "$status" -eq 64 ]
    run "$EXE" start missing.sh
    [ "$status" -eq 66 ]
}

@test "the documented Makefile runs verbatim with make (/bin/sh)" {
    command -v make >/dev/null 2>&1 || skip "make is not installed"
    linked
    local port
    port=$(free_port)
    server_script server.sh "$port"
    printf '%s\n' 'start:' '	tsm start server.sh' '' 'stop:' '	tsm stop server' '' \
        'restart:' '	tsm restart server' '' 'logs:' '	tsm logs server --lines 100' '' \
        'status:' '	tsm list' >Makefile
    export PATH=$HOME/.local/bin:$PATH

    run --separate-stderr make -s start
    [ "$status" -eq 0 ]
    [[ "$output" == "tsm: started 'server-$port' (TSM ID: 0, PID: "* ]]
    run make -s status
    [ "$status" -eq 0 ]
    [[ "$output" == *"server-$port"*online* ]]
    wait_until 10 grep -q serving "$TETRA_DIR/tsm/logs/server-$port.out"
    run make -s logs
    [ "$status" -eq 0 ]
    [[ "$output" == *"0|server-$port | serving on $port"* ]]
    run make -s restart
    [ "$status" -eq 0 ]
    [[ "$output" == "tsm: restarted 'server-$port' (TSM ID: 0, PID: "* ]]
    run make -s stop
    [ "$status" -eq 0 ]
    [ "$output" = "tsm: stopped 'server-$port' (TSM ID: 0)" ]
    # A failing tsm fails the make target.
    run make -s stop
    [ "$status" -eq 0 ]
    "$REAL_TSM_NATIVE" delete server >/dev/null
    run make -s stop
    [ "$status" -ne 0 ]
    [[ "$output" == *"tsm: process 'server' not found"* ]]
}

@test "the documented deploy.sh runs verbatim" {
    linked
    local port
    port=$(free_port)
    server_script app.sh "$port"
    cat >deploy.sh <<'DEPLOY'
#!/usr/bin/env bash
# deploy.sh

# Start application with TSM
tsm start app.sh production

# Wait for startup
sleep 2

# Check status
if tsm list | grep -q "production.*online"; then
    echo "Deployment successful"
else
    echo "Deployment failed"
    exit 1
fi
DEPLOY
    chmod +x deploy.sh
    PATH=$HOME/.local/bin:$PATH run --separate-stderr ./deploy.sh
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "tsm: started 'production-$port' (TSM ID: 0, PID: ${lines[0]##*PID: }" ]
    [ "${lines[1]}" = "Deployment successful" ]
}

@test "tsm from env -i sh -c, with only PATH (and HOME) set" {
    linked
    local port
    port=$(free_port)
    server_script svc.sh "$port"
    run --separate-stderr env -i PATH="$HOME/.local/bin:$CRON_PATH" TETRA_DIR="$TETRA_DIR" \
        TSM_NATIVE="$TSM_NATIVE" sh -c 'tsm start svc.sh && tsm list && tsm stop svc; echo "rc=$?"'
    [ "$status" -eq 0 ]
    [ "${lines[0]%%(*}" = "tsm: started 'svc-$port' " ]
    [[ "$output" == *"svc-$port"*online* ]]
    [ "${lines[${#lines[@]}-2]}" = "tsm: stopped 'svc-$port' (TSM ID: 0)" ]
    [ "${lines[${#lines[@]}-1]}" = "rc=0" ]

    # Exit codes reach sh.
    run env -i PATH="$HOME/.local/bin:$CRON_PATH" TETRA_DIR="$TETRA_DIR" TSM_NATIVE="$TSM_NATIVE" \
        sh -c 'tsm stop nope 2>/dev/null; echo "rc=$?"; tsm bogus 2>/dev/null; echo "rc=$?"'
    [ "$output" = "$(printf 'rc=1\nrc=64')" ]
}

@test "cron-style: env -i HOME=… sh -c with cron's PATH and the link's full path" {
    linked
    local port
    port=$(free_port)
    server_script job.sh "$port"
    # What a crontab line runs: HOME and cron's PATH only; state in ~/tetra.
    run --separate-stderr env -i HOME="$HOME" PATH="$CRON_PATH" TSM_NATIVE="$TSM_NATIVE" \
        sh -c 'cd "$1" && "$HOME/.local/bin/tsm" start job.sh nightly && "$HOME/.local/bin/tsm" list' \
        _ "$TEST_DIR"
    [ "$status" -eq 0 ]
    [ "${lines[0]%%(*}" = "tsm: started 'nightly-$port' " ]
    [[ "$output" == *"nightly-$port"*online* ]]
    [ -f "$HOME/tetra/tsm/processes/nightly-$port.meta" ]
    run env -i HOME="$HOME" PATH="$CRON_PATH" TSM_NATIVE="$TSM_NATIVE" \
        sh -c '"$HOME/.local/bin/tsm" delete nightly'
    [ "$status" -eq 0 ]
    [ "$output" = "tsm: deleted 'nightly-$port' (TSM ID: 0)" ]
}

@test "the linked executable finds its checkout's build with no TSM_NATIVE, through symlinks" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    fake_native "$co/target/debug/tsm-native" debug
    mkdir -p "$HOME/.local/bin" "$TEST_DIR/links"
    # A link to a link, relative and absolute.
    ln -s "$co/shell/tsm" "$TEST_DIR/links/tsm"
    ln -s ../../links/tsm "$HOME/.local/bin/tsm"
    run env -i HOME="$HOME" PATH="$CRON_PATH" sh -c '"$HOME/.local/bin/tsm" list "a b"'
    [ "$status" -eq 0 ]
    [ "$output" = "debug [list][a b]" ]
    FAKE_EXIT=5 run env -i HOME="$HOME" PATH="$CRON_PATH" FAKE_EXIT=5 sh -c '"$HOME/.local/bin/tsm" stop x'
    [ "$status" -eq 5 ]
}
