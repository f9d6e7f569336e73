//! `tsm-native`: the binary behind the `tsm` shell function.

/// The musl build runs as the light supervisor: its heap is packed into one arena
/// (`platform::heap`, docs/ARCHITECTURE.md "The supervisor's memory").
#[cfg(target_env = "musl")]
#[global_allocator]
static HEAP: tsm::platform::heap::Global = tsm::platform::heap::Global;

fn main() {
    std::process::exit(tsm::main_entry());
}
