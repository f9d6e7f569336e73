//! The dashboard's state: the services as `list` sees them (refreshed about once a second),
//! each one's cpu and memory history, the selection, the filter, the selected service's log
//! tail, and the actions (run as `tsm-native` subcommands in the background).

use crate::logs::{files_of, last_lines};
use crate::ops::rows::{rows as list_rows, Row as ListRow};
use crate::ops::Ctx;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::SystemTime;

/// Samples of history kept per service (one a refresh).
pub const HISTORY: usize = 120;
/// Log lines kept for the panes.
const LOG_LINES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter.
    Filter,
    /// Waiting for y/n before deleting this service.
    ConfirmDelete(String),
    /// The selected service's log, full screen.
    FullLog,
}

#[derive(Debug, Default)]
pub struct History {
    pub cpu: VecDeque<u64>,
    pub memory: VecDeque<u64>,
}

/// The tail of one service's two log files, read again when either changed.
#[derive(Debug, Default)]
pub struct LogTail {
    pub name: String,
    files: [PathBuf; 2],
    stamps: [Option<(u64, SystemTime)>; 2],
    pub out: Vec<String>,
    pub err: Vec<String>,
}

fn stamp(path: &std::path::Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

fn lines(path: &std::path::Path) -> Vec<String> {
    last_lines(path, LOG_LINES)
        .unwrap_or_default()
        .into_iter()
        .map(|l| clean(&String::from_utf8_lossy(&l)))
        .collect()
}

/// A log line safe to draw: tabs become spaces, other control characters (escape sequences a
/// service printed) a visible replacement, so they cannot drive the terminal.
pub fn clean(line: &str) -> String {
    line.chars()
        .flat_map(|c| match c {
            '\t' => vec![' '; 4],
            c if c.is_control() => vec!['\u{fffd}'],
            c => vec![c],
        })
        .collect()
}

pub struct App {
    pub ctx: Ctx,
    pub rows: Vec<ListRow>,
    pub history: HashMap<String, History>,
    /// The selected service's name (kept across refreshes and filters).
    pub selected: Option<String>,
    pub filter: String,
    pub mode: Mode,
    /// The last action's outcome, shown on the status line.
    pub message: String,
    pub log: LogTail,
    pub error: Option<String>,
    done_tx: Sender<String>,
    done_rx: Receiver<String>,
}

impl App {
    pub fn new(ctx: Ctx) -> Self {
        let (done_tx, done_rx) = channel();
        App {
            ctx,
            rows: Vec::new(),
            history: HashMap::new(),
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            message: String::new(),
            log: LogTail::default(),
            error: None,
            done_tx,
            done_rx,
        }
    }

    /// Observes every service again and appends to their histories.
    pub fn refresh(&mut self) {
        match list_rows(&self.ctx) {
            Ok(rows) => {
                self.error = None;
                self.history
                    .retain(|name, _| rows.iter().any(|r| &r.name == name));
                for r in &rows {
                    let h = self.history.entry(r.name.clone()).or_default();
                    h.cpu.push_back(r.cpu.map_or(0, |c| c.round() as u64));
                    h.memory.push_back(r.memory.unwrap_or(0));
                    while h.cpu.len() > HISTORY {
                        h.cpu.pop_front();
                        h.memory.pop_front();
                    }
                }
                self.rows = rows;
            }
            Err(e) => self.error = Some(format!("{e:#}")),
        }
        let visible = self.visible();
        if !visible
            .iter()
            .any(|r| Some(&r.name) == self.selected.as_ref())
        {
            self.selected = visible.first().map(|r| r.name.clone());
        }
    }

    /// The rows that pass the filter (a part of the name).
    pub fn visible(&self) -> Vec<&ListRow> {
        self.rows
            .iter()
            .filter(|r| r.name.contains(self.filter.as_str()))
            .collect()
    }

    pub fn selected_row(&self) -> Option<&ListRow> {
        let name = self.selected.as_ref()?;
        self.rows.iter().find(|r| &r.name == name)
    }

    /// Moves the selection by `step` rows within the visible ones.
    pub fn select(&mut self, step: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let at = visible
            .iter()
            .position(|r| Some(&r.name) == self.selected.as_ref())
            .unwrap_or(0) as isize;
        let to = (at + step).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[to].name.clone());
    }

    /// Reads the selected service's log tail again when its files changed.
    pub fn refresh_log(&mut self) {
        let Some(name) = self.selected.clone() else {
            self.log = LogTail::default();
            return;
        };
        if self.log.name != name {
            let meta = self.ctx.store().read(&name).ok().flatten();
            let (out, err) = files_of(&self.ctx.paths, &name, meta.as_ref());
            self.log = LogTail {
                name,
                files: [out, err],
                ..LogTail::default()
            };
        }
        for i in 0..2 {
            let now = stamp(&self.log.files[i]);
            if now != self.log.stamps[i] || now.is_none() {
                self.log.stamps[i] = now;
                let text = lines(&self.log.files[i]);
                if i == 0 {
                    self.log.out = text;
                } else {
                    self.log.err = text;
                }
            }
        }
    }

    /// Runs `tsm-native ARGS` in the background; its outcome becomes the status message.
    pub fn act(&mut self, args: Vec<String>) {
        self.message = format!("{} …", args.join(" "));
        let done = self.done_tx.clone();
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tsm-native"));
        std::thread::spawn(move || {
            let outcome = std::process::Command::new(exe)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .output();
            let text = match outcome {
                Ok(out) => {
                    let both = [out.stdout, out.stderr].concat();
                    let text = String::from_utf8_lossy(&both);
                    text.lines().last().unwrap_or("").to_string()
                }
                Err(e) => format!("tsm: {} failed: {e}", args.join(" ")),
            };
            let _ = done.send(text);
        });
    }

    /// Picks up finished actions; true when one finished (the list should be refreshed).
    pub fn finished(&mut self) -> bool {
        let mut any = false;
        while let Ok(text) = self.done_rx.try_recv() {
            self.message = text;
            any = true;
        }
        any
    }
}
