#!/usr/bin/env bash
# Linker for tsm on Linux/glibc (set in .cargo/config.toml): executables are linked statically
# and not position-independent, so each supervisor maps no shared library and relocates
# nothing at start-up (~116 kB PSS per supervisor instead of ~175 kB; docs/benchmarks.md,
# memory).
# Shared objects (proc-macros, build scripts' dependencies) are linked unchanged.
# Set TSM_DYNAMIC_LINK=1 to link as usual (also the case when there is no static libc.a).
# Without a static C library (Fedora needs glibc-static for one), link as usual.
libc_a=$("${CC:-cc}" -print-file-name=libc.a 2>/dev/null || true)
[[ $libc_a == /* && -f $libc_a ]] || TSM_DYNAMIC_LINK=1
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
