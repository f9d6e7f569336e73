//! `tsm-native`: the binary behind the `tsm` shell function.

fn main() {
    std::process::exit(tsm::main_entry());
}
