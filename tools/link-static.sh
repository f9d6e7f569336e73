#!/usr/bin/env bash
# Linker for tsm on Linux/glibc (set in .cargo/config.toml): executables are linked statically
# and not position-independent, so each supervisor maps no shared library and relocates
# nothing at start-up (~116 kB PSS per supervisor instead of ~175 kB; BENCHMARKS.md, memory).
# Shared objects (proc-macros, build scripts' dependencies) are linked unchanged.
# Set TSM_DYNAMIC_LINK=1 to link as usual.
for arg in "$@"; do
    if [[ $arg == -shared || ${TSM_DYNAMIC_LINK:-} == 1 ]]; then
        exec "${CC:-cc}" "$@"
    fi
done
args=()
for arg in "$@"; do
    case $arg in
        -pie | -no-pie | -Wl,-Bdynamic) ;;
        -lgcc_s) args+=(-lgcc_eh) ;;
        *) args+=("$arg") ;;
    esac
done
exec "${CC:-cc}" "${args[@]}" -static -no-pie
