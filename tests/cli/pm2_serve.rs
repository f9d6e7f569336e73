//! pm2's `serve`: a folder's files over HTTP as a service (`tsm serve PATH PORT`, `--spa`,
//! basic auth), and an ecosystem app with `script: 'serve'` and `PM2_SERVE_*`.

use crate::harness::*;
use predicates::prelude::*;
use std::io::{Read, Write};

fn get(port: u16, path: &str, auth: Option<&str>) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

fn site(t: &Tsm) {
    std::fs::create_dir_all(t.work.join("site/css")).unwrap();
    std::fs::write(t.work.join("site/index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(t.work.join("site/css/a.css"), "h1{}\n").unwrap();
    std::fs::write(t.work.join("secret.txt"), "outside\n").unwrap();
}

#[test]
fn serve_serves_a_folder_and_nothing_above_it() {
    let t = Tsm::new();
    site(&t);
    let port = free_port();
    t.run(&["serve", "site", &port.to_string()])
        .success()
        .stdout(predicate::str::contains(format!("started 'serve-{port}'")));
    wait_until("the server answers", || get(port, "/", None).is_some());
    let home = get(port, "/", None).unwrap();
    assert!(
        home.starts_with("HTTP/1.1 200") && home.contains("<h1>home</h1>"),
        "{home}"
    );
    let css = get(port, "/css/a.css", None).unwrap();
    assert!(css.contains("Content-Type: text/css"), "{css}");
    for hostile in ["/../secret.txt", "/%2e%2e/secret.txt", "/nope"] {
        let r = get(port, hostile, None).unwrap();
        assert!(r.starts_with("HTTP/1.1 404"), "{hostile}: {r}");
    }
}

#[test]
fn serve_spa_and_basic_auth() {
    let t = Tsm::new();
    site(&t);
    let port = free_port();
    let p = port.to_string();
    t.run(&[
        "serve",
        "site",
        "--port",
        &p,
        "--spa",
        "--basic-auth-username",
        "user",
        "--basic-auth-password",
        "pass",
        "--name",
        "app",
    ])
    .success()
    .stdout(predicate::str::contains(format!("started 'app-{port}'")));
    wait_until("the server answers", || get(port, "/", None).is_some());
    assert!(get(port, "/deep/route", None)
        .unwrap()
        .starts_with("HTTP/1.1 401"));
    // base64("user:pass")
    let r = get(port, "/deep/route", Some("dXNlcjpwYXNz")).unwrap();
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("home"), "{r}");
}

#[test]
fn an_ecosystem_app_with_script_serve_runs_pm2s_static_server() {
    let t = Tsm::new();
    site(&t);
    let port = free_port();
    std::fs::write(
        t.work.join("ecosystem.config.js"),
        format!(
            "module.exports = {{ apps: [{{ name: 'static', script: 'serve', env: \
             {{ PM2_SERVE_PATH: 'site', PM2_SERVE_PORT: {port}, PM2_SERVE_SPA: 'true' }} }}] }};\n"
        ),
    )
    .unwrap();
    t.run(&["start", "ecosystem.config.js"])
        .success()
        .stdout(predicate::str::contains(format!("started 'static-{port}'")));
    wait_until("the app answers", || {
        get(port, "/any/where", None).is_some_and(|r| r.contains("home"))
    });
    t.run(&["restart", "static"]).success();
    wait_until("it answers again", || {
        get(port, "/", None).is_some_and(|r| r.contains("home"))
    });
}
