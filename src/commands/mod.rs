//! One module per subcommand, each implementing [`Run`] on its clap arguments.

pub mod delete;
pub mod describe;
pub mod describe_usage;
pub mod doctor;
pub mod export;
pub mod flush;
pub mod jlist;
pub mod list;
pub mod logs;
pub mod metrics;
pub mod names;
pub mod ports;
pub mod reload;
pub mod reset;
pub mod restart;
pub mod runtime;
pub mod save;
pub mod scale;
pub mod serve;
pub mod small;
pub mod start;
pub mod startup;
pub mod stop;
pub mod table;
pub mod why;

use crate::ops::Ctx;
use anyhow::Result;
use std::io::Write;

/// A subcommand: its parsed arguments run against the environment, normal output to `out`.
pub trait Run {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()>;
}
