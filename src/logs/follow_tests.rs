//! Tests of following log files.

use super::*;
use std::sync::Arc;

/// Passes what `follow` prints to a channel; fails (ending `follow`) once told to stop.
struct Tap(mpsc::Sender<Vec<u8>>);

impl Write for Tap {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0
            .send(data.to_vec())
            .map_err(|_| io::Error::other("reader gone"))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A write the folder's watch does not report (made through a hard link in another
/// folder, as kqueue misses appends), while another log is busy, still shows promptly:
/// through the file's own watch (macOS) or the sweep deadline (Linux).
#[test]
fn a_quiet_file_is_seen_while_another_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, elsewhere) = (dir.path().join("logs"), dir.path().join("elsewhere"));
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let (busy, quiet) = (logs.join("busy.log"), logs.join("quiet.log"));
    std::fs::write(&busy, "").unwrap();
    std::fs::write(&quiet, "").unwrap();
    std::fs::hard_link(&quiet, elsewhere.join("link")).unwrap();
    let (tx, rx) = mpsc::channel();
    let sources = vec![
        Source {
            path: busy.clone(),
            prefix: "busy| ".into(),
            from: None,
            json: None,
        },
        Source {
            path: quiet.clone(),
            prefix: "quiet| ".into(),
            from: None,
            json: None,
        },
    ];
    std::thread::spawn(move || {
        let all = crate::logs::query::Filter::default();
        follow(
            sources,
            &mut Tap(tx),
            false,
            |b, o| o.extend_from_slice(b),
            &all,
        )
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&busy)
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                file.write_all(b"tick\n").unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Wait until the busy log flows (the watches are in place), then write the quiet one.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&rx.recv_timeout(Duration::from_secs(60)).unwrap())
        .contains("busy| tick")
    {
        assert!(Instant::now() < deadline, "the busy log never showed");
    }
    let mut link = std::fs::OpenOptions::new()
        .append(true)
        .open(elsewhere.join("link"))
        .unwrap();
    link.write_all(b"hello\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = String::from_utf8_lossy(&chunk).contains("quiet| hello\n");
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop(rx);
    assert!(
        seen,
        "the quiet file's line never showed while the other log was busy"
    );
}
