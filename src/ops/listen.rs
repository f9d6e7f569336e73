//! The port contract: whether a service's process tree listens on its PORT, what else it
//! listens on, and who holds a port (named, and mapped to a tsm process when it is one).

use crate::model::status::observe;
use crate::platform::{self, Listener, Sockets};
use crate::state::paths::Paths;
use crate::state::store::Entry;

/// What the machine listens on right now, read once per command.
pub struct Snapshot {
    sockets: Sockets,
}

impl Snapshot {
    pub fn read() -> Self {
        Self {
            sockets: Sockets::read(),
        }
    }

    /// Whether anything listens on TCP `port`.
    pub fn busy(&self, port: u16) -> bool {
        self.sockets.busy(port)
    }

    /// Whether the process tree of `pid` listens on TCP `port`. On Linux costs nothing when
    /// nothing on the machine listens there; on macOS asks the tree's own sockets.
    pub fn tree_listens(&self, pid: i32, port: u16) -> bool {
        let holds = |pids: &[i32]| {
            self.sockets
                .held_by(pids)
                .iter()
                .any(|l| l.port == port && !l.udp)
        };
        // Most services listen from their main process: look at its children only if not.
        self.sockets.could_hold(port) && (holds(&[pid]) || holds(&platform::process_tree(pid)[1..]))
    }

    /// Every socket the process tree of `pid` listens on.
    pub fn tree_sockets(&self, pid: i32) -> Vec<Listener> {
        self.sockets.held_by(&platform::process_tree(pid))
    }

    /// The processes listening on TCP `port`.
    pub fn holders(&self, port: u16) -> Vec<i32> {
        if self.busy(port) {
            self.sockets.holders(port)
        } else {
            Vec::new()
        }
    }

    /// Who holds `port`, described for a message: `pid 1234 (python3 -m http.server)
    /// [tsm 2: web-3000]`; `None` when nobody visible does.
    pub fn holder(&self, port: u16, paths: &Paths, entries: &[Entry]) -> Option<String> {
        if !self.busy(port) {
            return None;
        }
        let Some(&pid) = self.holders(port).first() else {
            return Some("a process tsm cannot see".into());
        };
        Some(describe(pid, paths, entries))
    }
}

/// `pid 1234 (command line) [tsm ID: NAME]`.
pub fn describe(pid: i32, paths: &Paths, entries: &[Entry]) -> String {
    let mut text = format!("pid {pid}");
    if let Some(cmd) = platform::command_line(pid) {
        text.push_str(&format!(" ({cmd})"));
    }
    for entry in entries {
        let Ok(meta) = &entry.meta else { continue };
        let Some(service) = observe(paths, &entry.name, meta).pid else {
            continue;
        };
        if platform::process_tree(service).contains(&pid) {
            let id = meta.id().map_or_else(|| "-".into(), |i| i.to_string());
            text.push_str(&format!(" [tsm {id}: {}]", entry.name));
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_of_ours_is_seen_and_described() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let snap = Snapshot::read();
        assert!(snap.busy(port));
        let me = std::process::id() as i32;
        assert!(snap.tree_listens(me, port));
        let paths = Paths::at("/nonexistent".into());
        let who = snap.holder(port, &paths, &[]).unwrap();
        assert!(who.starts_with(&format!("pid {me} (")), "{who}");
        drop(socket);
        assert!(!Snapshot::read().busy(port));
    }

    #[test]
    fn ipv6_listeners_count_too() {
        let Ok(socket) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 on this machine
        };
        let port = socket.local_addr().unwrap().port();
        let snap = Snapshot::read();
        assert!(snap.tree_listens(std::process::id() as i32, port));
    }
}
