//! What a service is: its spec and the rules around it (names, PORT, restart policy, runtime
//! features, instances, status), independent of how the state folder stores it.

pub mod deps;
pub mod derive;
pub mod diagnose;
pub mod dotenv;
pub mod features;
pub mod hooks;
pub mod idioms;
pub mod instances;
pub mod policy;
pub mod port;
pub mod probe;
pub mod resolve;
pub mod run;
pub mod schedule;
pub mod script;
pub mod spec;
pub mod spread;
pub mod status;
pub mod units;
