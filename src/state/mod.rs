//! The state folder `$TETRA_DIR/tsm`: its paths, meta files, locks, IDs, and the files in it
//! handled as untrusted.

pub mod anchor;
pub mod casefold;
pub mod chain;
pub mod counter;
pub mod dir;
pub mod fanout;
pub mod keys;
pub mod listing;
pub mod lock;
pub mod meta;
pub mod ownership;
pub mod paths;
pub mod portindex;
pub mod present;
pub mod spare;
pub mod statefile;
pub mod store;
pub mod supervisor;
pub mod table;
pub mod unrecorded;
pub mod usage;
pub mod words;
pub mod workers;
