//! The interactive front ends, dispatched from the binary's edge: the REPL and the `monit` dashboard.

pub mod monit;
pub mod repl;
