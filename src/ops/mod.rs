//! The use cases behind the commands: start, restart, stop, scale, reload and the checks and
//! waits around them. Commands parse and print; ops decide and act.

pub mod halt;
pub mod launch;
pub mod listen;
pub mod startcheck;
