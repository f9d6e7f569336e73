#!/usr/bin/env bats
# `tsm setup`: the binary, and on macOS (a stubbed `uname` and `brew`) util-linux's setsid on
# PATH. The state folder is not setup's: tsm-native makes it when it first needs it.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
    common_setup
    # Just the tools the shim runs, with no setsid, cargo or tsm-native among them.
    MIN_BIN=$TEST_DIR/minbin
    make_min_path "$MIN_BIN" dirname mkdir chmod cat ln readlink rm
    BREW_PREFIX=$TEST_DIR/homebrew/opt/util-linux
}
teardown() { common_teardown; }

# darwin_stubs: `uname` says Darwin; `brew --prefix util-linux` prints $BREW_PREFIX and
# `brew install util-linux` puts an executable setsid in its bin.
darwin_stubs() {
    stub uname 'echo Darwin'
    stub brew "$(
        printf 'prefix=%q mkdir=%q chmod=%q\n' "$BREW_PREFIX" "$(command -v mkdir)" "$(command -v chmod)"
        cat <<'BODY'
case "$1 ${2-}" in
    "--prefix util-linux") printf '%s\n' "$prefix" ;;
    "install util-linux")
        "$mkdir" -p "$prefix/bin" && printf '#!/bin/sh\nexec "$@"\n' >"$prefix/bin/setsid" &&
            "$chmod" +x "$prefix/bin/setsid" ;;
    *) echo "brew stub: unexpected: $*" >&2; exit 1 ;;
esac
BODY
    )"
}

# in_min_shell SCRIPT ARGS...: SCRIPT in a clean bash whose PATH is only the stubs and the
# minimal tools, with $1 the shim.
in_min_shell() {
    local script=$1
    shift
    env -i HOME="$HOME" TETRA_DIR="$TETRA_DIR" TSM_NATIVE="$TSM_NATIVE" PATH="$STUBS:$MIN_BIN" \
        "$BASH" --noprofile --norc -c "$script" _ "$SHIM" "$@"
}

@test "tsm setup leaves the state folder to tsm-native, which makes all of it with mode 700" {
    source "$SHIM"
    umask 022
    run --separate-stderr tsm setup
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "${lines[0]}" = "tsm: ready ($TSM_NATIVE)" ]
    [ ! -e "$TETRA_DIR/tsm" ]

    # The first command that writes state makes every folder it uses.
    run --separate-stderr tsm save
    [ "$status" -eq 0 ]
    local dir
    for dir in logs pids processes locks; do
        [ -d "$TETRA_DIR/tsm/$dir" ] || { echo "missing $dir"; false; }
        [ "$(mode_of "$TETRA_DIR/tsm/$dir")" = 700 ]
    done
    [ "$(mode_of "$TETRA_DIR/tsm")" = 700 ]

    # Opened up meanwhile: tightened again.
    chmod 755 "$TETRA_DIR/tsm"
    run tsm save
    [ "$status" -eq 0 ]
    [ "$(mode_of "$TETRA_DIR/tsm")" = 700 ]
    run tsm list
    [ "$status" -eq 0 ]
}

@test "without TETRA_DIR the state folder is \$HOME/tetra/tsm" {
    source "$SHIM"
    unset TETRA_DIR
    HOME=$TEST_DIR/home
    mkdir "$HOME"
    run tsm setup
    [ "$status" -eq 0 ]
    [ ! -e "$HOME/tetra" ]
    run tsm save
    [ "$status" -eq 0 ]
    [ "$output" = "tsm: saved 0 process(es) to $HOME/tetra/tsm/dump.json" ]
    [ -d "$HOME/tetra/tsm/processes" ]
    [ "$(mode_of "$HOME/tetra/tsm")" = 700 ]
}

@test "a state folder that cannot be made fails clearly, and setup does not need it" {
    source "$SHIM"
    TETRA_DIR=$TEST_DIR/file
    : >"$TETRA_DIR"
    run --separate-stderr tsm setup
    [ "$status" -eq 0 ]
    make_service "$TEST_DIR/svc.sh" "$(free_port)"
    run --separate-stderr tsm start "$TEST_DIR/svc.sh"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == "tsm: creating $TETRA_DIR/tsm: "* ]]
}

@test "on Linux, setup and sourcing never call brew" {
    [ "$(uname -s)" = Linux ] || skip "needs Linux (uname -s is $(uname -s))"
    stub brew
    source "$SHIM"
    run tsm setup
    [ "$status" -eq 0 ]
    [ -z "$(stub_calls brew)" ]
}

@test "the minimal PATH of these tests has no setsid, cargo or tsm-native" {
    darwin_stubs
    run in_min_shell 'command -v setsid || command -v cargo || command -v tsm-native || uname -s'
    [ "$status" -eq 0 ]
    [ "$output" = Darwin ]
}

@test "macOS without setsid: setup installs util-linux with brew and puts it on PATH, once" {
    darwin_stubs
    run --separate-stderr in_min_shell '
        source "$1" || exit 9
        echo "PATH0=$PATH"
        tsm setup || exit 10
        echo "PATH1=$PATH"
        echo "SETSID=$(command -v setsid)"
        echo "--- again"
        tsm setup || exit 11
        echo "PATH2=$PATH"'
    echo "$output"
    echo "stderr: $stderr"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    local first=${output%%--- again*} second=${output#*--- again}

    [[ "$first" == *"tsm: setsid not found; running: brew install util-linux"* ]]
    [[ "$first" == *"tsm: added $BREW_PREFIX/bin to the end of PATH (for this shell)"* ]]
    [[ "$first" == *"tsm: ready ($TSM_NATIVE)"* ]]
    [ "$(stub_count brew "install util-linux")" -eq 1 ]
    grep -qx "PATH0=$STUBS:$MIN_BIN" <<<"$output"
    # Appended, never prepended: util-linux must not shadow macOS's getopt, column, ….
    grep -qx "PATH1=$STUBS:$MIN_BIN:$BREW_PREFIX/bin" <<<"$output"
    grep -qx "SETSID=$BREW_PREFIX/bin/setsid" <<<"$output"

    # The second run changes nothing.
    [[ "$second" != *"brew install"* ]]
    [[ "$second" != *added* ]]
    [[ "$second" == *"tsm: ready ($TSM_NATIVE)"* ]]
    grep -qx "PATH2=$STUBS:$MIN_BIN:$BREW_PREFIX/bin" <<<"$output"
    [ "$(stub_count brew "install util-linux")" -eq 1 ]
    [ ! -e "$TETRA_DIR/tsm" ]
}

@test "macOS with util-linux already installed: no brew install, PATH added once" {
    darwin_stubs
    mkdir -p "$BREW_PREFIX/bin"
    printf '#!/bin/sh\n' >"$BREW_PREFIX/bin/setsid"
    chmod +x "$BREW_PREFIX/bin/setsid"
    # Sourcing never runs brew (it runs at every shell start): at a prefix that is not
    # Homebrew's usual one, setup finds it and appends it, without installing.
    run --separate-stderr in_min_shell '
        source "$1" || exit 9
        echo "PATH0=$PATH"
        echo "BREW_CALLS=$(cat "$STUB_LOGS/brew.log" 2>/dev/null)"
        tsm setup || exit 10
        echo "PATH1=$PATH"'
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$(stub_count brew "install util-linux")" -eq 0 ]
    grep -qx "PATH0=$STUBS:$MIN_BIN" <<<"$output"
    grep -qx "BREW_CALLS=" <<<"$output"
    grep -qx "PATH1=$STUBS:$MIN_BIN:$BREW_PREFIX/bin" <<<"$output"

    # Installed but sourced without it on PATH (e.g. setup in an older shell): setup adds it,
    # without installing.
    run --separate-stderr in_min_shell '
        source "$1" || exit 9
        PATH=$2
        tsm setup || exit 10
        echo "PATH1=$PATH"' "$STUBS:$MIN_BIN"
    [ "$status" -eq 0 ]
    [ "$(stub_count brew "install util-linux")" -eq 0 ]
    grep -qx "PATH1=$STUBS:$MIN_BIN:$BREW_PREFIX/bin" <<<"$output"
}

@test "macOS without setsid and without brew: setup warns on stderr" {
    stub uname 'echo Darwin'
    run --separate-stderr in_min_shell 'source "$1" && tsm setup'
    [ "$status" -eq 0 ]
    [ "$stderr" = "tsm: setsid not found and Homebrew is missing; install Homebrew, then run: brew install util-linux" ]
    [[ "$output" == *"tsm: ready ($TSM_NATIVE)"* ]]
    [ ! -e "$TETRA_DIR/tsm" ]
}

@test "macOS: a failing brew install fails setup" {
    stub uname 'echo Darwin'
    stub brew "$(printf 'prefix=%q\n' "$BREW_PREFIX")"'
        [ "$1" = --prefix ] && printf "%s\n" "$prefix"
        [ "$1" != install ]'
    run --separate-stderr in_min_shell 'source "$1" && tsm setup'
    [ "$status" -eq 1 ]
    [ "$stderr" = "tsm: brew install util-linux failed" ]
    [ "$(stub_count brew "install util-linux")" -eq 1 ]
}

@test "setup with no binary and no cargo: exit 1 and says to install Rust" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    run --separate-stderr env -u TSM_NATIVE PATH="$STUBS:$MIN_BIN" "$BASH" --noprofile --norc -c \
        'source "$1" && tsm setup' _ "$co/shell/tsm.sh"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tsm: tsm-native is not built and cargo is missing; install Rust, then run tsm setup again" ]
    [ ! -e "$TETRA_DIR/tsm" ]
}

@test "setup with a TSM_NATIVE that is not executable fails and builds nothing" {
    stub cargo
    run --separate-stderr in_min_shell 'source "$1" && TSM_NATIVE=$2 tsm setup' "$TEST_DIR/nope"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tsm: TSM_NATIVE=$TEST_DIR/nope is not an executable file" ]
    [ -z "$(stub_calls cargo)" ]
}

@test "setup with no binary builds it with cargo build --release in the checkout, then loads it" {
    local co=$TEST_DIR/checkout
    make_checkout "$co"
    # The built binary prints the real integration, and hands every other command over.
    stub cargo "$(printf 'native=%q real=%q\n' "$co/target/release/tsm-native" "$REAL_TSM_NATIVE")"'
        printf "%s\n" "$PWD" >>"${0%/*}/../stub-logs/cargo.cwd"
        mkdir -p "${native%/*}" && printf "#!/bin/sh\nexec %s \"\$@\"\n" "$real" >"$native" && chmod +x "$native"'
    run --separate-stderr env -u TSM_NATIVE PATH="$STUBS:$MIN_BIN" "$BASH" --noprofile --norc -c '
        source "$1" || exit 9
        type -t _tsm_complete || echo "no completion yet"
        tsm setup && tsm setup || exit 10
        type -t _tsm_complete' _ "$co/shell/tsm.sh"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$(stub_calls cargo)" = "build --release --quiet" ]
    [ "$(cat "$STUB_LOGS/cargo.cwd")" = "$co" ]
    [ "${lines[0]}" = "no completion yet" ]
    [ "${lines[1]}" = "tsm: building tsm-native (cargo build --release in $co)" ]
    [ "${lines[2]}" = "tsm: ready ($co/target/release/tsm-native)" ]
    [ "$(grep -cxF "tsm: ready ($co/target/release/tsm-native)" <<<"$output")" -eq 2 ]
    # The same shell now has tsm-native's integration.
    [ "${lines[${#lines[@]}-1]}" = function ]
}
