//! Integration tests: the real `tsm-native` binary against real processes, each test in its
//! own TETRA_DIR, every process it started checked gone at the end.

mod argv0;
mod attacks;
mod authority;
mod bats;
mod capped_reads;
mod cron;
mod ecosystem;
mod escapees;
mod export;
mod harness;
mod hostile;
mod init;
mod instances;
mod layers;
mod lifecycle;
mod listing;
mod logs;
mod logsearch;
mod pm2;
mod pm2_commands;
mod portable;
mod ports;
mod procfile;
mod repl;
mod repl_tty;
mod resources;
mod safety;
mod start;
mod startup;
mod supervision;
mod treekill;
mod trust;
mod tty;
mod users;
mod watch;
