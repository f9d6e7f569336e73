#!/usr/bin/env bats
# Commands through the `tsm` function against the real tsm-native: exit codes, messages, and
# a start/list/stop/restart/delete round trip with a real service.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
    common_setup
    # shellcheck source=../shell/tsm.sh
    source "$SHIM"
    cd "$TEST_DIR"
}
teardown() { common_teardown; }

@test "tsm list: exit 0 and the table header" {
    run --separate-stderr tsm list
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ "${lines[1]}" =~ ^│\ id\ +│\ name\ +│\ status\ +│\ pid\ +│\ port\ +│\ uptime\ +│\ ↺\ +│\ cpu\ +│\ mem\ +│$ ]]
    [ "${#lines[@]}" -eq 4 ]
}

@test "tsm stop of an unknown process: exit 1, not found" {
    run --separate-stderr tsm stop nope
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "tsm: process 'nope' not found" ]
}

@test "tsm start of a missing script: exit 66" {
    run --separate-stderr tsm start missing.sh
    [ "$status" -eq 66 ]
    [ -z "$output" ]
    [ "$stderr" = "tsm: 'missing.sh' not found or not executable" ]
}

@test "tsm start of a script without PORT: exit 65" {
    printf '#!/usr/bin/env bash\nexec sleep 300\n' >noport.sh
    chmod +x noport.sh
    run --separate-stderr tsm start noport.sh
    [ "$status" -eq 65 ]
    [ -z "$output" ]
    [ "$stderr" = "tsm: PORT not set; no valid PORT= in script (pass --port N, add PORT=N to the script, or start without a PORT with --no-port)" ]
    run tsm list
    [ "${#lines[@]}" -eq 4 ]
}

@test "an unknown subcommand: exit 64 with one tsm: line" {
    run --separate-stderr tsm frobnicate
    [ "$status" -eq 64 ]
    [ -z "$output" ]
    [[ "$stderr" == "tsm: "*frobnicate* ]]
    [ "${#stderr_lines[@]}" -eq 1 ]
}

# list_marks TEXT: `tsm list` shows TEXT in a port cell.
list_marks() {
    tsm list | grep -qF "│ $1 "
}

@test "start, list, ports, restart, stop and delete a real service" {
    local port pid pid2
    port=$(free_port)
    make_service svc.sh "$port"

    local began=$SECONDS tries=0
    run --separate-stderr tsm start svc.sh
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ "$output" =~ ^tsm:\ started\ \'svc-$port\'\ \(TSM\ ID:\ 0,\ PID:\ ([0-9]+)\)$ ]]
    pid=${BASH_REMATCH[1]}
    pid_alive "$pid"
    # The reported PID is the service itself (which soon execs sleep), not its supervisor.
    if [ -r "/proc/$pid/cmdline" ]; then
        wait_until 10 cmdline_is "$pid" "sleep 300"
    fi

    # A `sleep` does not listen. Younger than the readiness grace (3s of uptime, in whole
    # seconds: a list within 2s of the start is inside it for sure, which SECONDS tells as at
    # most one tick), it is starting: `?`; later it is marked `!`. Each is explained below
    # the table. A list that came too late to tell (a loaded machine) is tried again after a
    # restart, which makes the service young again.
    run tsm list
    while [ $((SECONDS - began)) -gt 1 ]; do
        tries=$((tries + 1))
        [ "$tries" -le 20 ] || false
        began=$SECONDS
        run --separate-stderr tsm restart svc
        [[ "$output" =~ PID:\ ([0-9]+)\)$ ]]
        pid=${BASH_REMATCH[1]}
        run tsm list
    done
    [ "$status" -eq 0 ]
    [[ "${lines[3]}" =~ ^│\ 0\ +│\ svc-$port\ +│\ online\ +│\ $pid\ +│\ $port\?\ +│ ]]
    [ "${lines[5]}" = "? starting: not listening on its PORT yet (first 3s)" ]
    wait_until 10 list_marks "$port!"
    run tsm list
    [[ "${lines[3]}" =~ ^│\ 0\ +│\ svc-$port\ +│\ online\ +│\ $pid\ +│\ $port!\ +│ ]]
    [ "${lines[5]}" = "! running, but not listening on its PORT" ]
    # The documented deploy check.
    tsm list | grep -q "svc.*online"

    run --separate-stderr tsm ports
    [ "$status" -eq 0 ]
    [ "$output" = "Process: svc, Port: $port (not listening)" ]

    # Starting it again is refused while it runs.
    run --separate-stderr tsm start svc.sh
    [ "$status" -eq 1 ]
    [ "$stderr" = "tsm: process 'svc-$port' already running" ]

    run --separate-stderr tsm restart svc
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^tsm:\ restarted\ \'svc-$port\'\ \(TSM\ ID:\ 0,\ PID:\ ([0-9]+)\)$ ]]
    pid2=${BASH_REMATCH[1]}
    [ "$pid2" != "$pid" ]
    wait_until 10 pid_gone "$pid"
    pid_alive "$pid2"
    tsm list | grep -q "svc-$port.*online.*$pid2"

    run --separate-stderr tsm stop svc
    [ "$status" -eq 0 ]
    [ "$output" = "tsm: stopped 'svc-$port' (TSM ID: 0)" ]
    wait_until 10 pid_gone "$pid2"
    run tsm list
    [[ "${lines[3]}" =~ ^│\ 0\ +│\ svc-$port\ +│\ stopped\ +│\ -\ + ]]
    if tsm list | grep -q "svc.*online"; then false; fi

    # A stopped service starts again under its old ID.
    run tsm start svc.sh
    [ "$status" -eq 0 ]
    [[ "$output" =~ \(TSM\ ID:\ 0,\ PID:\ ([0-9]+)\)$ ]]
    pid=${BASH_REMATCH[1]}
    pid_alive "$pid"

    run --separate-stderr tsm delete "$port"
    [ "$status" -eq 0 ]
    [ "$output" = "tsm: deleted 'svc-$port' (TSM ID: 0)" ]
    wait_until 10 pid_gone "$pid"
    run tsm list
    [ "${#lines[@]}" -eq 4 ]
    run tsm ports
    [ -z "$output" ]
}

@test "services are addressed by name, ID and port; two at once" {
    local p1 p2
    { read -r p1 && read -r p2; } < <(free_ports 2)
    make_service api.sh "$p1"
    make_service web.sh "$p2"
    tsm start api.sh >/dev/null
    tsm start web.sh frontend >/dev/null

    run tsm ports
    [[ "${lines[0]}" == "Process: api, Port: $p1 ("* ]]
    [[ "${lines[1]}" == "Process: frontend, Port: $p2 ("* ]]

    run --separate-stderr tsm stop 1
    [ "$output" = "tsm: stopped 'frontend-$p2' (TSM ID: 1)" ]
    run tsm stop "$p1"
    [ "$output" = "tsm: stopped 'api-$p1' (TSM ID: 0)" ]
    run tsm delete '*'
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
}

@test "the teardown safety net kills processes left with this test's TETRA_DIR" {
    local pid
    # In its folder: macOS's ps shows no environment of /bin/sleep, its working folder tells.
    mkdir -p "$TEST_DIR/leak"
    (cd "$TEST_DIR/leak" && TETRA_DIR=$TEST_DIR/leak exec sleep 300) 3>&- &
    pid=$!
    wait_until 5 has_leftover "$TEST_DIR/leak" "$pid"
    kill_leftovers "$TEST_DIR/leak" 3>/dev/null
    wait_until 5 pid_gone "$pid"
}
