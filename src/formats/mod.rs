//! Files tsm reads and writes for other tools: pm2 ecosystem configs, Procfiles, and the
//! exports for other engines.

pub mod ecosystem;
pub mod export;
pub mod procfile;
