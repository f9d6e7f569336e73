//! `tsm why`: how real services' last runs ended and why — a port a real process holds, a
//! missing node and python module, a command not found, a stop tsm sent and a kill it did
//! not — and `list`'s hint for errored services.

use crate::harness::*;
use std::process::{Child, Command, Stdio};

fn why(t: &Tsm, args: &[&str]) -> String {
    let out = t.cmd().arg("why").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "why {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A python process listening on 127.0.0.1:`port`, killed when dropped.
struct Holder(Child);

impl Holder {
    fn listen(port: u16) -> Self {
        let child = Command::new("python3")
            .args([
                "-c",
                "import socket,sys,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\ntime.sleep(300)\n",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3");
        wait_until("the holder listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_taken_port_names_its_holder_and_how_to_free_it() {
    let t = Tsm::new();
    let [port, port_py] = free_ports();
    let holder = Holder::listen(port);
    let holder_py = Holder::listen(port_py);
    t.script(
        "srv.js",
        "require('http').createServer(() => {}).listen(process.env.PORT, '127.0.0.1')\n",
    );
    t.script(
        "srv.py",
        "import os, socket\ns = socket.socket()\ns.bind(('127.0.0.1', int(os.environ['PORT'])))\n",
    );
    let name = format!("srv-{port}");
    let name_py = format!("py-{port_py}");
    for (script, svc, p) in [("srv.js", "srv", port), ("srv.py", "py", port_py)] {
        t.run(&[
            "start",
            "--force",
            "--restart-delay",
            "1s",
            "--port",
            &p.to_string(),
            script,
            svc,
        ])
        .success();
    }
    for svc in [&name, &name_py] {
        wait_until("a crash", || {
            t.log(&format!("{svc}.err")).contains("in use")
        });
        wait_until("its end recorded", || {
            t.meta(svc).raw("exit_code").is_some() || t.meta(svc).raw("last_exit_code").is_some()
        });
    }
    let text = why(&t, &[&name]);
    assert!(text.contains("exited with code 1"), "{text}");
    assert!(text.contains(&format!("port {port} is taken")), "{text}");
    let pid = holder.0.id();
    assert!(text.contains(&format!("held by pid {pid} (")), "{text}");
    assert!(text.contains(&format!("kill {pid}")), "{text}");
    assert!(text.contains("EADDRINUSE"), "the stderr of the run: {text}");
    assert!(text.contains("peak memory"), "{text}");
    // Python names no port: the service's PORT is the one looked at.
    let text = why(&t, &[&name_py]);
    assert!(text.contains(&format!("port {port_py} is taken")), "{text}");
    assert!(
        text.contains(&format!("held by pid {} (", holder_py.0.id())),
        "{text}"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn missing_modules_and_commands_are_named() {
    let t = Tsm::new();
    t.script("need.js", "require('left-padzz')\n");
    t.script("need.py", "import flaskzzz\n");
    t.script("typo.sh", "#!/bin/sh\nnosuchcommandzz --serve\n");
    for (script, name) in [("need.js", "js"), ("need.py", "py"), ("typo.sh", "typo")] {
        t.run(&["start", "--no-port", "--max-restarts", "0", script, name])
            .success();
    }
    for name in ["js", "py", "typo"] {
        wait_until("errored", || t.status_of(name) == "errored");
    }
    let js = why(&t, &["js"]);
    assert!(js.contains("a module is missing: left-padzz"), "{js}");
    assert!(js.contains("npm install left-padzz"), "{js}");
    let py = why(&t, &["py"]);
    assert!(py.contains("a module is missing: flaskzzz"), "{py}");
    assert!(py.contains("pip install flaskzzz"), "{py}");
    let typo = why(&t, &["typo"]);
    assert!(typo.contains("exited with code 127"), "{typo}");
    assert!(typo.contains("not found"), "{typo}");
    assert!(typo.contains("nosuchcommandzz"), "{typo}");
    // Without a name: every service not online; list points at it.
    let all = why(&t, &[]);
    for name in ["js (", "py (", "typo ("] {
        assert!(all.contains(name), "{all}");
    }
    let list = t.run(&["list"]).success();
    assert!(stdout_of(&list).contains("tsm why"), "{}", stdout_of(&list));
    t.run(&["why", "nosuch"]).code(1);
    t.run(&["delete", "all"]).success();
}

#[test]
fn who_sent_the_signal() {
    let t = Tsm::new();
    let nap = t.nap();
    t.script("nap.sh", &format!("#!/bin/sh\nexec {nap} 300\n"));
    let pid = t.start(&["--no-port", "--restart", "never", "nap.sh", "outside"]);
    t.start(&["--no-port", "nap.sh", "stopped"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the kill recorded", || t.status_of("outside") == "exited");
    t.run(&["stop", "stopped"]).success();
    let outside = why(&t, &["outside"]);
    assert!(outside.contains("killed by SIGKILL"), "{outside}");
    assert!(outside.contains("not sent by tsm"), "{outside}");
    let stopped = why(&t, &["stopped"]);
    assert!(stopped.contains("killed by SIGTERM"), "{stopped}");
    assert!(stopped.contains("sent by tsm to stop it"), "{stopped}");
    t.run(&["delete", "all"]).success();
}

#[test]
fn the_environment_a_restart_changed_is_told() {
    let t = Tsm::new();
    let nap = t.nap();
    t.script("nap.sh", &format!("#!/bin/sh\nexec {nap} 300\n"));
    std::fs::write(t.work.join("app.env"), "KEEP=1\nCHANGE=a\nGONE=x\n").unwrap();
    t.start(&["--no-port", "--env", "app.env", "nap.sh", "envy"]);
    assert!(!why(&t, &["envy"]).contains("environment changed"));
    std::fs::write(t.work.join("app.env"), "KEEP=1\nCHANGE=b\nNEW=y\n").unwrap();
    t.run(&["restart", "envy"]).success();
    let text = why(&t, &["envy"]);
    assert!(
        text.contains("environment changed by the last tsm restart:"),
        "{text}"
    );
    for change in ["+NEW", "~CHANGE", "-GONE"] {
        assert!(text.contains(change), "{change}: {text}");
    }
    assert!(
        !text.contains("KEEP") && !text.contains("=b"),
        "names only: {text}"
    );
    t.run(&["delete", "all"]).success();
}
