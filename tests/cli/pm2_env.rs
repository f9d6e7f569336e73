//! The environment a service is started from, kept as pm2 keeps it: recorded at start,
//! restored on restart, reload, `start NAME` and resurrect even from an empty (`env -i`, cron)
//! environment, replaced by `--update-env`, carried by `save`.

use crate::harness::*;
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;

/// A node app that prints the variables it was given at each start, then idles.
fn app(t: &Tsm) {
    t.script(
        "app.js",
        "console.log(`FOO=${process.env.FOO} NODE_ENV=${process.env.NODE_ENV} \
         TSM_NAME=${process.env.TSM_NAME}`);\nsetInterval(() => {}, 1 << 30);\n",
    );
}

/// `tsm-native ARGS` as cron runs it: nothing in its environment but `TETRA_DIR`.
fn from_cron(t: &Tsm, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = t.cmd();
    cmd.env_clear().env("TETRA_DIR", &t.tetra).args(args);
    cmd.assert()
}

fn starts_with(t: &Tsm, line: &str, times: usize) {
    wait_until(&format!("{times} runs printing {line}"), || {
        t.log("app.out").matches(line).count() >= times
    });
}

#[test]
fn the_start_environment_survives_a_restart_from_an_empty_environment() {
    let t = Tsm::new();
    app(&t);
    t.cmd()
        .env("FOO", "bar")
        .env("NODE_ENV", "production")
        .args(["start", "app.js", "--no-port"])
        .assert()
        .success();
    starts_with(&t, "FOO=bar NODE_ENV=production TSM_NAME=app", 1);
    let record = t.state().join("processes/app.start-env.json");
    let mode = std::fs::metadata(&record).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the record is private");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#"["FOO","bar"]"#), "{text}");

    // cron: no FOO, no PATH, nothing but TETRA_DIR.
    from_cron(&t, &["restart", "app"]).success();
    starts_with(&t, "FOO=bar NODE_ENV=production", 2);
    // reload and `start NAME` of a stopped service restore it too.
    from_cron(&t, &["reload", "all"]).success();
    starts_with(&t, "FOO=bar NODE_ENV=production", 3);
    from_cron(&t, &["stop", "app"]).success();
    from_cron(&t, &["start", "app"]).success();
    starts_with(&t, "FOO=bar NODE_ENV=production", 4);

    // --update-env takes the caller's environment, and it is kept from then on.
    t.cmd()
        .env("FOO", "baz")
        .args(["restart", "app", "--update-env"])
        .assert()
        .success();
    starts_with(&t, "FOO=baz NODE_ENV=undefined", 1);
    from_cron(&t, &["restart", "app"]).success();
    starts_with(&t, "FOO=baz NODE_ENV=undefined", 2);

    // describe says where the environment comes from and what wins.
    t.run(&["describe", "app"])
        .success()
        .stdout(predicate::str::contains("start env"))
        .stdout(predicate::str::contains("--update-env"))
        .stdout(predicate::str::contains("env order    PORT > env_PROFILE"));
}

#[test]
fn save_carries_the_start_environment_to_resurrect() {
    let t = Tsm::new();
    app(&t);
    t.cmd()
        .env("FOO", "saved")
        .args(["start", "app.js", "--no-port"])
        .assert()
        .success();
    starts_with(&t, "FOO=saved", 1);
    t.run(&["save"]).success();
    let dump = std::fs::read_to_string(t.state().join("dump.json")).unwrap();
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    let start_env = &dump["processes"][0]["start_env"];
    assert!(
        start_env
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0] == "FOO" && p[1] == "saved"),
        "{start_env}"
    );
    // Forgotten altogether (the record goes with it), then brought back at "boot".
    t.run(&["delete", "app"]).success();
    assert!(!t.state().join("processes/app.start-env.json").exists());
    from_cron(&t, &["resurrect"]).success();
    starts_with(&t, "FOO=saved", 2);
}

#[test]
fn a_damaged_record_is_said_and_replaced_by_the_callers_environment() {
    let t = Tsm::new();
    app(&t);
    t.cmd()
        .env("FOO", "first")
        .args(["start", "app.js", "--no-port"])
        .assert()
        .success();
    starts_with(&t, "FOO=first", 1);
    let record = t.state().join("processes/app.start-env.json");
    std::fs::write(&record, "{not json").unwrap();
    t.cmd()
        .env("FOO", "now")
        .args(["restart", "app"])
        .assert()
        .success()
        .stderr(predicate::str::contains("is not an environment record"));
    starts_with(&t, "FOO=now", 1);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#"["FOO","now"]"#), "{text}");
}

#[test]
fn a_given_variable_wins_over_the_start_environment() {
    let t = Tsm::new();
    app(&t);
    std::fs::write(t.work.join("vars.env"), "FOO=from-file\n").unwrap();
    t.cmd()
        .env("FOO", "from-shell")
        .env("NODE_ENV", "shell")
        .args(["start", "app.js", "--no-port", "--env", "vars.env"])
        .assert()
        .success();
    starts_with(&t, "FOO=from-file NODE_ENV=shell", 1);
    from_cron(&t, &["restart", "app"]).success();
    starts_with(&t, "FOO=from-file NODE_ENV=shell", 2);
}

#[test]
fn scale_gives_new_instances_the_apps_start_environment() {
    let t = Tsm::new();
    let [port, _] = free_ports::<2>();
    t.script(
        "api.sh",
        &format!(
            "#!/usr/bin/env bash\nPORT=${{PORT:-{port}}}\necho \"FOO=$FOO on $PORT\"\nexec sleep 300\n"
        ),
    );
    t.cmd()
        .env("FOO", "first")
        .args(["start", "api.sh", "-i", "1"])
        .assert()
        .success();
    from_cron(&t, &["scale", "api", "2"]).success();
    let second = format!("api-{}.out", port + 1);
    wait_until("the new instance's line", || {
        t.log(&second).contains("FOO=")
    });
    assert!(t.log(&second).contains("FOO=first"), "{}", t.log(&second));
}
