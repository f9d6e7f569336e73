//! The shared table `list` reads: a copy of each meta line and a liveness lock per
//! supervisor. The meta files stay the record (a slot counts only while its file is
//! unchanged), the table is rebuilt when missing or damaged, and liveness is still proven by
//! the kernel and the supervisor's command line, never by a pid alone.

use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn row(t: &Tsm, name: &str) -> serde_json::Value {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn table(t: &Tsm) -> Vec<u8> {
    std::fs::read(t.state().join("table")).unwrap_or_default()
}

/// Whether another process can take the liveness byte of TSM ID `id` on its block's
/// liveness file (where supervisors hold it, off the table every slot write locks).
fn can_lock_byte(t: &Tsm, id: u64) -> bool {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys\nf=open(sys.argv[1],'r+b')\ntry:\n    fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,(1<<40)+int(sys.argv[2]))\n    print('free')\nexcept OSError:\n    print('held')",
        ])
        .arg(t.state().join("live").join((id / 64).to_string()))
        .arg(id.to_string())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "free"
}

fn quiet(t: &Tsm) {
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
}

#[test]
fn list_answers_from_the_table_and_the_meta_file_tells_the_same() {
    let t = Tsm::new();
    quiet(&t);
    let pid = t.start(&["--no-port", "svc.sh", "web"]);
    let bytes = table(&t);
    assert!(
        bytes.starts_with(b"tsm-table 1 "),
        "a table with its header"
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("pid={pid}")),
        "the slot copies the meta line"
    );
    let r = row(&t, "web");
    assert_eq!(r["status"], "online");
    assert_eq!(r["pid"], pid);
    let meta = t.meta("web");
    assert_eq!(meta.raw("pid"), Some(pid.to_string().as_str()));
    assert_eq!(meta.status(), "online");
    // Proven by its liveness lock while the life lock file is the one it holds.
    assert!(meta.raw("life_lock").is_some());
    assert!(!can_lock_byte(&t, 0), "the supervisor holds ID 0's byte");
    t.run(&["stop", "web"]).success();
    assert_eq!(row(&t, "web")["status"], "stopped");
    assert!(can_lock_byte(&t, 0), "and lets it go when it exits");
}

#[test]
fn a_meta_file_changed_by_hand_wins_over_its_slot() {
    let t = Tsm::new();
    quiet(&t);
    t.start(&["--no-port", "svc.sh", "web"]);
    t.run(&["stop", "web"]).success();
    assert_eq!(row(&t, "web")["restarts"], 0);
    let mut meta = t.meta("web");
    meta.set_raw("restarts", "7");
    std::fs::write(t.state().join("processes/web.meta"), meta.to_line()).unwrap();
    assert_eq!(
        row(&t, "web")["restarts"],
        7,
        "the slot is stale: the file is read"
    );
    assert_eq!(row(&t, "web")["restarts"], 7, "and the slot written again");
    // A meta file copied in by hand, with no slot, is listed too.
    meta.set_raw("name", "copied");
    meta.set_raw("tsm_id", "9");
    std::fs::write(t.state().join("processes/copied.meta"), meta.to_line()).unwrap();
    assert_eq!(row(&t, "copied")["status"], "stopped");
    // A deleted one is gone, whatever its slot says.
    t.run(&["delete", "web"]).success();
    assert!(t.list_json().iter().all(|r| r["name"] != "web"));
}

#[test]
fn a_missing_or_damaged_table_is_rebuilt_from_the_meta_files() {
    let t = Tsm::new();
    quiet(&t);
    let pid = t.start(&["--no-port", "svc.sh", "a"]);
    t.start(&["--no-port", "svc.sh", "b"]);
    t.run(&["stop", "b"]).success();
    let path = t.state().join("table");
    let before = table(&t);
    // Damaged: header and slots overwritten in place (the supervisors' locks stay).
    let garbage = vec![b'x'; before.len()];
    std::fs::write(&path, &garbage).unwrap();
    assert_eq!(row(&t, "a")["status"], "online");
    assert_eq!(row(&t, "a")["pid"], pid);
    assert_eq!(row(&t, "b")["status"], "stopped");
    let rebuilt = table(&t);
    assert!(rebuilt.starts_with(b"tsm-table 1 "));
    assert!(String::from_utf8_lossy(&rebuilt).contains("name=b"));
    // Missing: made again and filled; the supervisor is proven by its life lock meanwhile.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(row(&t, "a")["status"], "online");
    assert!(String::from_utf8_lossy(&table(&t)).contains(&format!("pid={pid}")));
    // A FIFO in its place is never opened blocking: the meta files answer.
    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    assert_eq!(row(&t, "a")["status"], "online");
    assert_eq!(row(&t, "b")["status"], "stopped");
    t.run(&["stop", "all"]).success();
}

#[test]
fn a_dead_supervisors_slot_proves_nothing() {
    let t = Tsm::new();
    quiet(&t);
    let pid = t.start(&["--no-port", "svc.sh", "web"]);
    let sup = t.supervisor_of("web");
    // Both killed: the slot still says online, the kernel says nobody holds its lock.
    kill(Pid::from_raw(sup), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until("both gone", || !alive(sup) && !alive(pid));
    assert!(String::from_utf8_lossy(&table(&t)).contains("status=online"));
    assert_eq!(row(&t, "web")["status"], "exited");
    assert_eq!(row(&t, "web")["pid"], serde_json::Value::Null);
}

#[test]
fn a_lock_on_the_table_held_by_another_process_proves_nothing() {
    let t = Tsm::new();
    quiet(&t);
    let pid = t.start(&["--no-port", "svc.sh", "web"]);
    let sup = t.supervisor_of("web");
    kill(Pid::from_raw(sup), Signal::SIGKILL).unwrap();
    wait_until("the supervisor gone", || !alive(sup));
    // A process that is no supervisor takes the dead supervisor's liveness byte (ID 0).
    let table = t.state().join("table");
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,os,sys,time\nf=open(sys.argv[1],'r+b')\nfcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,1<<40)\nprint('held',flush=True)\ntime.sleep(300)",
        ])
        .arg(&table)
        .env("TETRA_DIR", &t.tetra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    // The service still runs, but its parent is no proven supervisor: not online.
    assert!(alive(pid));
    assert_ne!(row(&t, "web")["status"], "online");
    holder.kill().unwrap();
    holder.wait().unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until("the service gone", || !alive(pid));
}

#[test]
fn a_table_hard_linked_into_a_copy_of_the_folder_proves_nothing_there() {
    let t = Tsm::new();
    quiet(&t);
    t.start(&["--no-port", "svc.sh", "web"]);
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-al")
        .arg(t.state())
        .arg(copy.path().join("tsm"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new(BIN)
        .args(["list", "--json"])
        .env("TETRA_DIR", copy.path())
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let web = rows
        .iter()
        .find(|r| r["name"] == "web")
        .expect("copied record");
    assert_ne!(web["status"], "online", "{web}");
    assert_eq!(web["pid"], serde_json::Value::Null);
    // The original's table is untouched by the copy's rebuild.
    assert_eq!(row(&t, "web")["status"], "online");
    t.run(&["stop", "web"]).success();
}

#[test]
fn an_id_two_records_share_proves_neither_by_itself() {
    let t = Tsm::new();
    quiet(&t);
    let a = t.start(&["--no-port", "svc.sh", "a"]);
    let b = t.start(&["--no-port", "svc.sh", "b"]);
    // b's record is given a's ID (a damaged counter): both are still proven, each by its
    // own supervisor.
    let mut meta = t.meta("b");
    meta.set_raw("tsm_id", "0");
    std::fs::write(t.state().join("processes/b.meta"), meta.to_line()).unwrap();
    assert_eq!(row(&t, "a")["pid"], a);
    assert_eq!(row(&t, "b")["pid"], b);
    assert_eq!(row(&t, "b")["status"], "online");
    // A copy of a's record under another name claims a's ID and pid: not a's service.
    let mut forged = t.meta("a");
    forged.set_raw("name", "c");
    std::fs::write(t.state().join("processes/c.meta"), forged.to_line()).unwrap();
    assert_ne!(row(&t, "c")["status"], "online");
    std::fs::remove_file(t.state().join("processes/c.meta")).unwrap();
    t.run(&["stop", "all"]).success();
}
