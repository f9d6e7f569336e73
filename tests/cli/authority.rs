//! Only this folder's live supervisor decides: a copied folder owns none of the original's
//! services, a forged record never gets an unrelated process signalled, a stop is finished by
//! the supervisor whatever happens to the command that asked, a removed lock file never
//! makes two supervisors, and a command holding a lock never blocks a supervisor.

use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// A service that ignores SIGTERM (only SIGKILL ends it).
fn stubborn(t: &Tsm) -> std::path::PathBuf {
    t.script(
        "stubborn.sh",
        "#!/usr/bin/env bash\ntrap '' TERM\necho up\nwhile :; do sleep 0.2; done\n",
    )
}

/// The service's pid as `list` shows it.
fn listed_pid(t: &Tsm, name: &str) -> Option<i32> {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["pid"].as_i64())
        .map(|p| p as i32)
}

/// Live processes of `tetra` started as supervisors of `name`.
fn supervisors_of(t: &Tsm, name: &str) -> Vec<i32> {
    processes_of(&t.tetra)
        .into_iter()
        .filter(|pid| {
            let args = tsm::platform::command_line(*pid).unwrap_or_default();
            args.contains(" supervise ") && args.ends_with(&format!(" {name}"))
        })
        .collect()
}

fn copy_state(from: &Tsm, to: &Tsm, flag: &str) {
    std::fs::create_dir_all(&to.tetra).unwrap();
    let ok = Command::new("cp")
        .arg(flag)
        .arg(from.state())
        .arg(to.state())
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_copied_folder_owns_none_of_the_originals_services() {
    let a = Tsm::new();
    a.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let port = free_port().to_string();
    let pid = a.start(&["--port", &port, "svc.sh"]);
    let name = format!("svc-{port}");
    // A backup (`cp -a`) and a hard-linked one (`cp -al`: the same lock file inodes).
    for flag in ["-a", "-al"] {
        let b = Tsm::new();
        copy_state(&a, &b, flag);
        let row = b.status_of(&name);
        assert_ne!(
            row, "online",
            "{flag}: the copy lists the original's service as its own"
        );
        assert_eq!(listed_pid(&b, &name), None, "{flag}");
        let out = b.run(&["delete", "all"]).success();
        assert!(stdout_of(&out).contains(&format!("deleted '{name}'")));
        assert!(
            alive(pid),
            "{flag}: the copy's delete stopped the original's service"
        );
        assert_eq!(a.status_of(&name), "online");
        assert_eq!(listed_pid(&a, &name), Some(pid));
        b.run(&["stop", "all"]).success();
        assert!(alive(pid), "{flag}");
    }
    a.run(&["stop", &name]).success();
    assert!(!alive(pid));
}

/// Writes a well-formed meta file `name` naming `pid` (with its real start stamp) as the
/// service and as its supervisor.
fn forge(t: &Tsm, name: &str, pid: i32, supervisor: i32, token: &str) {
    let processes = t.state().join("processes");
    std::fs::create_dir_all(&processes).unwrap();
    let start = |p: i32| tsm::platform::proc_info(p).map_or(0, |i| i.start);
    let line = format!(
        "tsm_id=7 name={name} script=/bin/sleep cwd=/ port=4999 status=online pid={pid} proc_start={} supervisor_pid={supervisor} supervisor_start={} run={token} restarts=0\n",
        start(pid),
        start(supervisor)
    );
    std::fs::write(processes.join(format!("{name}.meta")), line).unwrap();
}

#[test]
fn a_forged_meta_never_signals_an_unrelated_tree() {
    let t = Tsm::new();
    t.run(&["list"]).success();
    // An unrelated tree: a group leader and its child, started by nobody's tsm.
    let mut tree = Command::new("sh")
        .args(["-c", "sleep 300 & exec sleep 301"])
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let leader = tree.id() as i32;
    wait_until("the tree's child", || {
        tsm::platform::process_tree(leader).len() >= 2
    });
    let child = tsm::platform::process_tree(leader)[1];
    // A token of this very folder's id, which the tree does not carry.
    let id = tsm::state::ownership::state_id(&tsm::state::paths::Paths::at(t.state()));
    let token = format!("{id}:7:1.{leader}");
    forge(&t, "x-4999", leader, leader, &token);
    assert_ne!(t.status_of("x-4999"), "online");
    t.run(&["stop", "x-4999"]).success();
    t.run(&["restart", "x-4999"]);
    assert!(
        alive(leader) && alive(child),
        "stop signalled an unrelated tree"
    );
    // As root, pid 1 named as the supervisor would reach everything it was asked to.
    forge(&t, "y-4999", child, 1, &token);
    t.run(&["delete", "y-4999"]).success();
    t.run(&["delete", "x-4999"]).success();
    assert!(
        alive(leader) && alive(child),
        "delete signalled an unrelated tree"
    );
    let _ = nix::sys::signal::killpg(Pid::from_raw(leader), Signal::SIGKILL);
    let _ = tree.wait();
}

#[test]
fn ctrl_c_of_stop_still_ends_the_service_and_records_it() {
    let t = Tsm::new();
    stubborn(&t);
    // A kill timeout long enough that a loaded machine still sends the Ctrl-C mid-stop.
    let pid = t.start(&["--no-port", "--kill-timeout", "6s", "stubborn.sh"]);
    wait_until("the service to ignore TERM", || {
        t.log("stubborn.out") == "up\n"
    });
    let mut stop = Command::new(BIN);
    stop.env("TETRA_DIR", &t.tetra)
        .args(["stop", "stubborn"])
        .stdout(Stdio::null());
    // Ctrl-C as at a terminal: a run started in the background of a script inherits an ignored
    // SIGINT, which the stop would rightly keep.
    // SAFETY: between fork and exec this only resets one signal's disposition (async-signal-safe).
    unsafe {
        stop.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut stop = stop.spawn().unwrap();
    wait_until("the stop to be under way", || {
        t.meta("stubborn").raw("status") == Some("stopping")
    });
    kill(Pid::from_raw(stop.id() as i32), Signal::SIGINT).unwrap();
    let status = stop.wait().unwrap();
    assert!(!status.success(), "the stop was meant to be interrupted");
    // The supervisor finishes the stop on its own: SIGKILL after the kill timeout.
    wait_until("the service to be killed", || !alive(pid));
    wait_until("stopped to be recorded", || {
        t.status_of("stubborn") == "stopped"
    });
    wait_until("the supervisor to exit", || {
        supervisors_of(&t, "stubborn").is_empty()
    });
    let doctor = t.run(&["doctor"]);
    assert!(
        !stdout_of(&doctor).contains("stopping"),
        "{}",
        stdout_of(&doctor)
    );
}

#[test]
fn a_removed_lock_file_never_makes_two_supervisors() {
    let t = Tsm::new();
    t.script(
        "crash.sh",
        "#!/usr/bin/env bash\necho run >> runs.txt\nexit 3\n",
    );
    t.start(&["--no-port", "--restart-delay", "60m", "crash.sh"]);
    wait_until("waiting restart", || {
        t.status_of("crash") == "waiting restart"
    });
    let lock = t.state().join("pids/crash.lock");
    std::fs::remove_file(&lock).unwrap();
    // A start now finds the first supervisor (told to take its lock again), stops it, and
    // starts one supervisor.
    t.run(&["start", "crash"]).success();
    wait_until("one supervisor", || supervisors_of(&t, "crash").len() <= 1);
    t.run(&["delete", "crash"]).success();
    wait_until("no supervisor left", || {
        supervisors_of(&t, "crash").is_empty()
    });
    assert!(!t.has_meta("crash"));
}

#[test]
fn a_supervisor_takes_its_removed_or_replaced_lock_file_again() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let pid = t.start(&["--no-port", "svc.sh"]);
    let sup = t.supervisor_of("svc");
    let lock = t.state().join("pids/svc.lock");
    assert_eq!(t.status_of("svc"), "online");
    for replace in [false, true] {
        std::fs::remove_file(&lock).unwrap();
        if replace {
            std::fs::write(&lock, "").unwrap();
        }
        // No proven supervisor now: the service is not shown supervised.
        assert_ne!(t.status_of("svc"), "online", "replace={replace}");
        // A command that acts tells the supervisor to look (SIGHUP): it takes the lock.
        t.run(&["start", "svc"]).code(1);
        wait_until("the lock held again", || t.status_of("svc") == "online");
        assert_eq!(supervisors_of(&t, "svc"), vec![sup]);
    }
    t.run(&["stop", "svc"]).success();
    assert!(!alive(pid));
}

/// Holds the flock on `path` in a child (suspended with SIGSTOP once it holds it), its pid
/// and start stamp written as a holder writes them.
fn hold_flock(path: &std::path::Path) -> std::process::Child {
    let script = "import fcntl,sys,time\nf=open(sys.argv[1],'a+')\nfcntl.flock(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(600)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    // Who holds it, as a holder writes it: `PID START`.
    let pid = child.id() as i32;
    let start = tsm::platform::proc_info(pid).map_or(0, |i| i.start);
    std::fs::write(path, format!("{pid} {start}\n")).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    child
}

#[test]
fn a_suspended_command_holding_the_meta_lock_never_blocks_the_supervisor() {
    let t = Tsm::new();
    t.script(
        "chatty.sh",
        "#!/usr/bin/env bash\nn=0\nwhile :; do n=$((n+1)); echo \"line $n\"; sleep 0.05; done\n",
    );
    let first = t.start(&["--no-port", "chatty.sh"]);
    let sup = t.supervisor_of("chatty");
    let mut holder = hold_flock(&t.state().join("locks/chatty.meta"));
    // Output keeps being pumped, and a crash is restarted, while the lock is held.
    let before = t.log("chatty.out").len();
    wait_until("more output", || t.log("chatty.out").len() > before + 50);
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    // A new run of the script, the supervisor's child (not the killed run's `sleep`, which
    // the supervisor adopts as its subreaper).
    wait_until("a new run", || {
        tsm::platform::process_tree(sup)
            .into_iter()
            .skip(1)
            .any(|p| {
                p != first
                    && tsm::platform::proc_info(p).is_some_and(|i| i.ppid == sup)
                    && tsm::platform::command_line(p).is_some_and(|c| c.contains("chatty.sh"))
            })
    });
    let _ = holder.kill();
    let _ = holder.wait();
    // Once the lock is free, what was kept is written.
    wait_until("the new run recorded", || {
        t.meta("chatty").raw("pid") != Some(first.to_string().as_str())
            && t.meta("chatty").raw("restarts") == Some("1")
    });
    assert_eq!(t.status_of("chatty"), "online");
}

#[test]
fn a_command_waiting_for_a_suspended_lock_holder_says_who_and_gives_up() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let pid = t.start(&["--no-port", "svc.sh"]);
    let mut holder = hold_flock(&t.state().join("locks/svc.op"));
    let out = t
        .cmd()
        .env("TSM_LOCK_TIMEOUT", "30")
        .args(["stop", "svc"])
        .assert()
        .code(1);
    let err = stderr_of(&out);
    let who = format!("pid {}", holder.id());
    assert!(err.contains(&who) && err.contains("suspended"), "{err}");
    assert!(err.starts_with("tsm: "), "{err}");
    assert!(alive(pid), "nothing was done");
    let _ = holder.kill();
    let _ = holder.wait();
    // A holder that runs is waited for until the deadline, then named.
    let mut running = hold_flock(&t.state().join("locks/svc.op"));
    kill(Pid::from_raw(running.id() as i32), Signal::SIGCONT).unwrap();
    let out = t
        .cmd()
        .env("TSM_LOCK_TIMEOUT", "1.5")
        .args(["restart", "svc"])
        .assert()
        .code(1);
    assert!(stderr_of(&out).contains(&format!("pid {}", running.id())));
    let _ = running.kill();
    let _ = running.wait();
    t.run(&["stop", "svc"]).success();
}

#[test]
fn a_stop_queued_behind_a_delete_finds_nothing_to_stop() {
    let t = Tsm::new();
    stubborn(&t);
    t.start(&["--no-port", "--kill-timeout", "2s", "stubborn.sh"]);
    wait_until("the service to ignore TERM", || {
        t.log("stubborn.out") == "up\n"
    });
    let delete = Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["delete", "stubborn"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the delete under way", || {
        !t.has_meta("stubborn") || t.meta("stubborn").raw("status") == Some("stopping")
    });
    let stop = t.run(&["stop", "stubborn"]);
    let deleted = delete.wait_with_output().unwrap();
    assert!(deleted.status.success());
    let err = stderr_of(&stop);
    assert_eq!(stop.get_output().status.code(), Some(1), "{err}");
    assert!(err.contains("'stubborn' not found"), "{err}");
    assert!(!stdout_of(&stop).contains("stopped"));
}
