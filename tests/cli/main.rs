//! Integration tests: the real `tsm-native` binary against real processes, each test in its
//! own TETRA_DIR, every process it started checked gone at the end.

mod bats;
mod ecosystem;
mod harness;
mod lifecycle;
mod listing;
mod logs;
mod ports;
mod repl;
mod repl_tty;
mod resources;
mod safety;
mod start;
mod startup;
mod supervision;
