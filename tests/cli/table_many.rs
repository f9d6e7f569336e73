//! A table of many slots, whose supervisors hold their liveness bytes on a file per block of
//! IDs (`live/BLOCK`), where `list` asks: the proof is the same as for a small table — a
//! holder counts only as the parent of the recorded service or by its command line, a dead
//! supervisor proves nothing, and neither does another process holding its byte. `jlist` and
//! `metrics` read the same way.

use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::BufRead;

fn row(t: &Tsm, name: &str) -> serde_json::Value {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

/// A process that is no supervisor, holding the liveness byte of TSM ID `id` on its block's
/// liveness file.
fn holding(t: &Tsm, id: u64) -> std::process::Child {
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'r+b')\nfcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,(1<<40)+int(sys.argv[2]))\nprint('held',flush=True)\ntime.sleep(300)",
        ])
        .arg(t.state().join("live").join((id / 64).to_string()))
        .arg(id.to_string())
        .env("TETRA_DIR", &t.tetra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    holder
}

#[test]
fn a_table_of_many_slots_still_proves_every_supervisor() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    // A record copied in by hand with a high ID: the table grows to 201 slots.
    std::fs::create_dir_all(t.state().join("processes")).unwrap();
    std::fs::write(
        t.state().join("processes/far.meta"),
        "tsm_id=200 name=far script=/bin/true status=stopped\n",
    )
    .unwrap();
    assert_eq!(row(&t, "far")["status"], "stopped");
    assert!(std::fs::metadata(t.state().join("table")).unwrap().len() > 200 * 1024);
    let names = ["a", "b", "c"];
    let pids: Vec<i32> = names
        .iter()
        .map(|n| t.start(&["--no-port", "svc.sh", n]))
        .collect();
    for (name, pid) in names.iter().zip(&pids) {
        let r = row(&t, name);
        assert_eq!(r["status"], "online", "{name}: {r}");
        assert_eq!(r["pid"], *pid);
    }
    // Each supervisor holds its byte on its block's liveness file.
    let id_a = row(&t, "a")["id"].as_u64().unwrap();
    assert!(id_a >= 200, "{id_a}");
    let live = t.state().join("live").join((id_a / 64).to_string());
    let probe = std::process::Command::new("python3")
        .args(["-c", "import fcntl,sys\nf=open(sys.argv[1],'r+b')\ntry:\n    fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,(1<<40)+int(sys.argv[2]))\n    print('free')\nexcept OSError:\n    print('held')"])
        .arg(&live)
        .arg(id_a.to_string())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "held");
    // a: its supervisor killed, its byte taken by a process that is no supervisor.
    let sup_a = t.supervisor_of("a");
    kill(Pid::from_raw(sup_a), Signal::SIGKILL).unwrap();
    wait_until("a's supervisor gone", || !alive(sup_a));
    let mut holder = holding(&t, id_a);
    // b: its supervisor and its service killed.
    let sup_b = t.supervisor_of("b");
    kill(Pid::from_raw(sup_b), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pids[1]), Signal::SIGKILL).unwrap();
    wait_until("b gone", || !alive(sup_b) && !alive(pids[1]));
    assert!(alive(pids[0]));
    assert_ne!(row(&t, "a")["status"], "online");
    assert_eq!(row(&t, "b")["status"], "exited");
    assert_eq!(row(&t, "b")["pid"], serde_json::Value::Null);
    assert_eq!(row(&t, "c")["status"], "online");
    assert_eq!(row(&t, "c")["pid"], pids[2]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    kill(Pid::from_raw(pids[0]), Signal::SIGKILL).unwrap();
    wait_until("a's service gone", || !alive(pids[0]));
    t.run(&["stop", "c"]).success();
    assert_eq!(row(&t, "c")["status"], "stopped");
}

#[test]
fn jlist_and_metrics_read_through_the_table_and_a_hand_edit_still_wins() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let pid = t.start(&["--no-port", "svc.sh", "web"]);
    let meta = t.state().join("processes/web.meta");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains(" restarts=0 "), "{text}");
    std::fs::write(&meta, text.replace(" restarts=0 ", " restarts=17 ")).unwrap();
    let table =
        || String::from_utf8_lossy(&std::fs::read(t.state().join("table")).unwrap()).into_owned();
    assert!(!table().contains("restarts=17"));
    // metrics answers from the edited file and writes its slot again.
    let out = t.run(&["metrics"]).success();
    let prom = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        prom.contains("tsm_restarts_total{name=\"web\",id=\"0\"} 17"),
        "{prom}"
    );
    assert!(prom.contains("tsm_up{name=\"web\",id=\"0\"} 1"), "{prom}");
    assert!(
        table().contains("restarts=17"),
        "metrics wrote the slot again"
    );
    // jlist too, after a second edit, and both still prove the supervisor.
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace(" restarts=17 ", " restarts=170 ")).unwrap();
    let out = t.run(&["jlist"]).success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(list[0]["pm2_env"]["restart_time"], 170);
    assert_eq!(list[0]["pm2_env"]["status"], "online");
    assert_eq!(list[0]["pid"], pid);
    assert!(
        table().contains("restarts=170"),
        "jlist wrote the slot again"
    );
    // Its supervisor killed: neither believes the slot's "online".
    let sup = t.supervisor_of("web");
    kill(Pid::from_raw(sup), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until("both gone", || !alive(sup) && !alive(pid));
    let out = t.run(&["metrics"]).success();
    let prom = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(prom.contains("tsm_up{name=\"web\",id=\"0\"} 0"), "{prom}");
    let out = t.run(&["jlist"]).success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(list[0]["pm2_env"]["status"], "stopped");
}
