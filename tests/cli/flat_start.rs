//! A start of one service reads no other service's meta file: the TSM ID comes from a counter
//! tsm wrote, a declared PORT from the port index, and both are rebuilt from the meta files
//! when they cannot be believed.

use crate::harness::*;

fn id_in(out: &assert_cmd::assert::Assert) -> u64 {
    let text = stdout_of(out);
    text.split("TSM ID: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no ID in {text:?}"))
}

#[test]
fn the_counter_tsm_wrote_is_believed_and_list_raises_it_above_a_copied_in_id() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    t.start(&["--no-port", "svc.sh", "a"]);
    // A record copied in by hand with a high ID (no supervisor: it shows as stopped).
    let mut copied = t.meta("a");
    copied.set_raw("tsm_id", "40");
    copied.set_raw("name", "copied");
    copied.set_raw("status", "stopped");
    std::fs::write(t.state().join("processes/copied.meta"), copied.to_line()).unwrap();
    // The start believes the counter: it did not read the copied record.
    let out = t.run(&["start", "--no-port", "svc.sh", "b"]).success();
    assert_eq!(id_in(&out), 1, "{}", stdout_of(&out));
    // A command that reads every meta file keeps the counter above what they hold.
    t.run(&["list"]).success();
    let out = t.run(&["start", "--no-port", "svc.sh", "c"]).success();
    assert_eq!(id_in(&out), 41, "{}", stdout_of(&out));
    // A counter written by hand is overruled by the meta files, and written again by tsm.
    std::fs::write(t.state().join("next_id"), "0\n").unwrap();
    let out = t.run(&["start", "--no-port", "svc.sh", "d"]).success();
    assert_eq!(id_in(&out), 42, "{}", stdout_of(&out));
    let counter = std::fs::read_to_string(t.state().join("next_id")).unwrap();
    assert!(counter.starts_with("43 tsm:"), "{counter:?}");
    t.run(&["stop", "all"]).success();
}

#[test]
fn a_declared_port_is_found_through_the_index_and_the_index_is_rebuilt() {
    let t = Tsm::new();
    let [port, other] = free_ports();
    t.script(
        "api.sh",
        "#!/usr/bin/env bash\nexport PORT=${PORT:-1}\nexec sleep 300\n",
    );
    t.start(&["--port", &port.to_string(), "api.sh"]);
    let index = t.state().join("ports").join(port.to_string());
    assert_eq!(
        std::fs::read_to_string(&index).unwrap(),
        format!("api-{port}\n")
    );
    let refused = format!(
        "tsm: port {port} is declared by tsm 0: api-{port} (online) (use --force to start anyway)\n"
    );
    t.run(&["start", "--port", &port.to_string(), "api.sh", "b"])
        .code(1)
        .stderr(refused.clone());
    // Removed, or damaged into a FIFO: rebuilt from the meta files, the answer the same.
    std::fs::remove_dir_all(t.state().join("ports")).unwrap();
    t.run(&["start", "--port", &port.to_string(), "api.sh", "b"])
        .code(1)
        .stderr(refused.clone());
    assert!(index.is_file(), "the index is built again");
    std::fs::remove_file(&index).unwrap();
    nix::unistd::mkfifo(&index, nix::sys::stat::Mode::S_IRWXU).unwrap();
    t.run(&["start", "--port", &port.to_string(), "api.sh", "b"])
        .code(1)
        .stderr(refused);
    assert!(!t.has_meta(&format!("b-{port}")));
    // A stale line proves nothing: a name noted for a PORT it no longer declares.
    let stale = t.state().join("ports").join(other.to_string());
    std::fs::write(&stale, format!("api-{port}\n")).unwrap();
    t.start(&["--port", &other.to_string(), "api.sh", "c"]);
    t.run(&["stop", "all"]).success();
}
