//! The use cases behind the commands: start, restart, stop, scale, reload and the checks and
//! waits around them. Commands parse and print; ops decide and act.

pub mod again;
pub mod cluster;
pub mod config;
pub mod ctx;
pub mod halt;
pub mod launch;
pub mod listen;
pub mod metrics;
pub mod order;
pub mod outcome;
pub mod procfile;
pub mod reload;
pub mod restart;
pub mod rows;
pub mod runtime;
pub mod scale;
pub mod shutdown;
pub mod start;
pub mod startcheck;
pub mod stop;
pub mod targets;
pub mod wait;

pub use ctx::Ctx;
