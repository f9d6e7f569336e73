//! What services cost: recent CPU from a small sample cache that `list`, `monit` and `jlist`
//! share, and memory in pm2's units.
//!
//! CPU is the share of one core used since the previous observation of the same process (by
//! any of those commands, at least [`MIN_BASE`] ago), else the average since the process
//! started. The cache is one small file, `$TETRA_DIR/tsm/cpu.samples`, one line per running
//! service (`NAME PID START CPU_NS AT_NS`), replaced atomically; a damaged or missing file
//! only means averages since start for one round.

use crate::platform::ProcInfo;
use crate::state::paths::Paths;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A sample younger than this is too short a base for a percentage.
const MIN_BASE_NS: u64 = 200_000_000;
/// A stored sample is replaced once it is this old (so 1 Hz readers get ~1 s deltas).
const REFRESH_NS: u64 = 500_000_000;
/// The cache is read with this cap (about 100 bytes a service).
const MAX_FILE: u64 = 4 << 20;
pub const MIN_BASE: std::time::Duration = std::time::Duration::from_nanos(MIN_BASE_NS);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    pid: i32,
    start: u64,
    cpu_ns: u64,
    at_ns: u64,
}

/// The sample cache, loaded once per command and saved once at its end.
pub struct Samples {
    paths: Paths,
    old: HashMap<String, Sample>,
    new: HashMap<String, Sample>,
    now_ns: u64,
    changed: bool,
}

fn epoch_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn parse(text: &str) -> HashMap<String, Sample> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let name = f.next()?.to_string();
            let sample = Sample {
                pid: f.next()?.parse().ok()?,
                start: f.next()?.parse().ok()?,
                cpu_ns: f.next()?.parse().ok()?,
                at_ns: f.next()?.parse().ok()?,
            };
            Some((name, sample))
        })
        .collect()
}

impl Samples {
    pub fn load(paths: &Paths) -> Self {
        // Not through a symlink, a regular file only, capped, and never a version being
        // rewritten (it is written through its spare, as the records are).
        let bytes = crate::state::statefile::read_capped(&paths.cpu_samples(), MAX_FILE);
        let text = bytes.ok().flatten().unwrap_or_default();
        Samples {
            paths: paths.clone(),
            old: parse(&String::from_utf8_lossy(&text)),
            new: HashMap::new(),
            now_ns: epoch_ns(),
            changed: false,
        }
    }

    /// Percent of one core `name`'s process `pid` (observed as `info`) used recently;
    /// `started` is its start in epoch seconds (meta `start_time`), for the fallback.
    pub fn cpu(&mut self, name: &str, pid: i32, info: &ProcInfo, started: Option<u64>) -> f64 {
        let now = Sample {
            pid,
            start: info.start,
            cpu_ns: info.cpu_ns,
            at_ns: self.now_ns,
        };
        let base = self
            .old
            .get(name)
            .copied()
            .filter(|b| b.pid == pid && b.start == info.start && b.cpu_ns <= info.cpu_ns)
            .filter(|b| b.at_ns < self.now_ns);
        let recent = base.filter(|b| self.now_ns - b.at_ns >= MIN_BASE_NS);
        let percent = match recent {
            Some(b) => percent(info.cpu_ns - b.cpu_ns, self.now_ns - b.at_ns),
            None => {
                let wall_s = (self.now_ns / 1_000_000_000).saturating_sub(started.unwrap_or(0));
                percent(info.cpu_ns, wall_s.max(1) * 1_000_000_000)
            }
        };
        match base.filter(|b| self.now_ns - b.at_ns < REFRESH_NS) {
            Some(kept) => {
                self.new.insert(name.to_string(), kept);
            }
            None => {
                self.new.insert(name.to_string(), now);
                self.changed = true;
            }
        }
        percent
    }

    /// Writes the samples of this round (services no longer running drop out); errors are
    /// ignored: the cache is an optimisation, never a reason to fail a listing.
    pub fn save(self) {
        if !self.changed && self.new.len() == self.old.len() {
            return;
        }
        let mut text = String::with_capacity(self.new.len() * 64);
        for (name, s) in &self.new {
            text.push_str(&format!(
                "{name} {} {} {} {}\n",
                s.pid, s.start, s.cpu_ns, s.at_ns
            ));
        }
        let _ = crate::state::store::write_spared(
            &self.paths,
            &self.paths.cpu_samples(),
            text.as_bytes(),
        );
    }
}

/// `cpu_ns` of CPU time over `wall_ns` of real time, as a percent of one core, to 0.1.
fn percent(cpu_ns: u64, wall_ns: u64) -> f64 {
    if wall_ns == 0 {
        return 0.0;
    }
    let p = cpu_ns as f64 * 100.0 / wall_ns as f64;
    (p * 10.0).round() / 10.0
}

/// pm2's CPU cell: `0%`, `12.5%`, `103%`.
pub fn cpu_cell(percent: f64) -> String {
    if percent.fract() == 0.0 || percent >= 100.0 {
        format!("{}%", percent.round() as u64)
    } else {
        format!("{percent:.1}%")
    }
}

/// pm2's memory cell (`bytesToSize(bytes, 1)`): `512b`, `4.0kb`, `51.6mb`, `1.2gb`.
pub fn memory_cell(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes}b"),
        1024..1_048_576 => format!("{:.1}kb", b / K),
        1_048_576..1_073_741_824 => format!("{:.1}mb", b / K / K),
        _ => format!("{:.1}gb", b / K / K / K),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(start: u64, cpu_ns: u64) -> ProcInfo {
        ProcInfo {
            start,
            ppid: 1,
            zombie: false,
            stopped: false,
            cpu_ns,
            rss: 0,
            threads: 1,
        }
    }

    #[test]
    fn cells_in_pm2_units() {
        assert_eq!(cpu_cell(0.0), "0%");
        assert_eq!(cpu_cell(12.5), "12.5%");
        assert_eq!(cpu_cell(99.9), "99.9%");
        assert_eq!(cpu_cell(103.4), "103%");
        assert_eq!(memory_cell(512), "512b");
        assert_eq!(memory_cell(4096), "4.0kb");
        assert_eq!(memory_cell(54_106_931), "51.6mb");
        assert_eq!(memory_cell(3 << 30), "3.0gb");
    }

    #[test]
    fn recent_cpu_comes_from_the_previous_sample_of_the_same_process() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().to_path_buf());
        let mut first = Samples::load(&paths);
        let now_s = first.now_ns / 1_000_000_000;
        // No sample: the average since start (2 s of CPU over 10 s).
        let p = first.cpu("a-1", 10, &info(7, 2_000_000_000), Some(now_s - 10));
        assert_eq!(p, 20.0);
        first.save();
        // One second later, 0.5 s more CPU: 50%, whatever the lifetime average.
        let mut second = Samples::load(&paths);
        second.now_ns = second.old["a-1"].at_ns + 1_000_000_000;
        assert_eq!(
            second.cpu("a-1", 10, &info(7, 2_500_000_000), Some(now_s - 10)),
            50.0
        );
        // Another process under that pid (a different start stamp) does not use the sample.
        assert_eq!(second.cpu("a-1", 10, &info(8, 0), Some(now_s)), 0.0);
    }

    #[test]
    fn the_cache_is_rewritten_through_its_spare_and_read_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().to_path_buf());
        paths.ensure().unwrap();
        for round in 0..3u64 {
            let mut samples = Samples::load(&paths);
            samples.cpu(&format!("s{round}"), 10, &info(7, round), None);
            samples.save();
            let back = Samples::load(&paths);
            assert_eq!(back.old.len(), 1, "round {round}: {:?}", back.old);
            assert_eq!(back.old[&format!("s{round}")].cpu_ns, round);
        }
        let root: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!root.iter().any(|n| n.contains(".tmp")), "{root:?}");
        let spare = paths.spare(&paths.cpu_samples()).unwrap();
        assert!(
            spare.is_file(),
            "the version it replaced is kept as the spare"
        );
    }

    #[test]
    fn a_cache_that_is_a_symlink_or_a_fifo_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "a 1 2 3 4\n").unwrap();
        std::os::unix::fs::symlink(&secret, tmp.path().join("cpu.samples")).unwrap();
        let paths = Paths::at(tmp.path().to_path_buf());
        assert!(Samples::load(&paths).old.is_empty());
        std::fs::remove_file(tmp.path().join("cpu.samples")).unwrap();
        nix::unistd::mkfifo(
            &tmp.path().join("cpu.samples"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .unwrap();
        assert!(
            Samples::load(&paths).old.is_empty(),
            "a fifo must not block"
        );
    }

    #[test]
    fn a_damaged_cache_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("cpu.samples"), "x y z\n\u{0}\na 1 2 3\n").unwrap();
        let paths = Paths::at(tmp.path().to_path_buf());
        let mut s = Samples::load(&paths);
        assert!(s.old.is_empty());
        let now_s = s.now_ns / 1_000_000_000;
        assert_eq!(s.cpu("a", 1, &info(2, 0), Some(now_s)), 0.0);
        s.save();
        let again = Samples::load(&paths);
        assert_eq!(again.old.len(), 1);
    }
}
