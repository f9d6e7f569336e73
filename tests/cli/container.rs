//! `tsm runtime` as a real container's entrypoint under podman: an image of busybox, the
//! static `tsm-native` and an ecosystem file (made with `podman import`), `podman logs`
//! showing the service's prefixed lines, `podman exec … tsm-native list` and `restart`
//! working on the runtime's state folder, and `podman stop` ending it gracefully (exit 0,
//! the service's own TERM handler run, not a SIGKILL at the stop timeout).

use crate::harness::{free_port, wait_until, Tsm, BIN};
use crate::podman::{Podman, Rootfs};
use crate::procfile::fetch;
use std::time::Instant;

/// Whether the ELF file at `path` asks for no program interpreter (statically linked).
fn static_elf(path: &str) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54), u16_at(56));
    (0..count).all(|i| {
        let at = phoff + i * size;
        bytes
            .get(at..at + 4)
            .is_some_and(|t| t != 3u32.to_le_bytes())
    })
}

const WEB: &str = "#!/bin/sh\n\
    mkdir -p /app/www && echo \"hello from a container\" > /app/www/index.html\n\
    busybox httpd -f -p \"$PORT\" -h /app/www &\n\
    child=$!\n\
    trap 'echo \"web: TERM, closing\"; kill $child; wait $child; exit 0' TERM\n\
    echo \"web listening on $PORT\"\n\
    wait $child\n";

#[test]
fn runtime_in_a_podman_container() {
    let Some(podman) = Podman::new() else { return };
    assert!(
        static_elf(BIN),
        "{BIN} is not statically linked (.cargo/config.toml links it so on glibc)"
    );
    // A world of its own, so that nothing this test starts outside podman is left behind.
    let _t = Tsm::new();
    let port = free_port();
    let root = Rootfs::with_busybox(podman.dir().join("root"));
    root.copy(std::path::Path::new(BIN), "/bin/tsm-native");
    root.write("/app/web.sh", WEB, 0o755);
    let apps = serde_json::json!({"apps": [{
        "name": "web", "script": "/app/web.sh", "kill_timeout": 4000,
        "env": {"PORT": port.to_string()},
    }]});
    root.write("/app/ecosystem.json", &apps.to_string(), 0o644);
    let built = Instant::now();
    podman.import_with(
        &root,
        "localhost/tsm-runtime:1",
        &[
            "ENTRYPOINT [\"/bin/tsm-native\", \"runtime\", \"/app/ecosystem.json\"]",
            "ENV TETRA_DIR=/tsm",
            "WORKDIR /app",
        ],
    );
    let build = built.elapsed();
    let name = format!("tsm-runtime-{port}");
    let started = Instant::now();
    podman.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network=host",
        "--stop-timeout",
        "20",
        "localhost/tsm-runtime:1",
    ]);
    wait_until("the service in the container to answer", || {
        fetch(port).is_some_and(|b| b.contains("hello from a container"))
    });
    let listening = started.elapsed();
    let logs = || {
        let out = podman.ok(&["logs", &name]);
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    wait_until("the prefixed line in podman logs", || {
        logs().contains(&format!("web-{port} | web listening on {port}"))
    });
    let list = |podman: &Podman| {
        let out = podman.ok(&["exec", &name, "/bin/tsm-native", "list", "--json"]);
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("list --json")
    };
    let rows = list(&podman);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "online");
    let first = rows[0]["pid"].clone();
    let out = podman.ok(&[
        "exec",
        &name,
        "/bin/tsm-native",
        "logs",
        "--nostream",
        "web",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web listening on"),
        "tsm logs from podman exec: {text}"
    );
    // A restart from `podman exec`: its new supervisor is handed to PID 1, the runtime stays.
    podman.ok(&["exec", &name, "/bin/tsm-native", "restart", "web"]);
    wait_until("the restarted service to answer", || {
        let rows = list(&podman);
        rows[0]["status"] == "online" && rows[0]["pid"] != first && fetch(port).is_some()
    });
    assert!(
        logs().contains("web: TERM, closing"),
        "the restart stopped it gracefully"
    );
    let stopping = Instant::now();
    podman.ok(&["stop", &name]);
    let stop = stopping.elapsed();
    let code = podman.ok(&["inspect", &name, "--format", "{{.State.ExitCode}}"]);
    let code = String::from_utf8_lossy(&code.stdout).trim().to_string();
    assert_eq!(
        code,
        "0",
        "not a clean end (137 is a SIGKILL at the stop timeout): {}",
        logs()
    );
    let text = logs();
    assert!(text.contains("SIGTERM: stopping every service"), "{text}");
    // The stop reached the restarted service: its handler ran after its second start.
    let (_, after) = text
        .rsplit_once("web listening on")
        .expect("two starts in the logs");
    assert!(after.contains("web: TERM, closing"), "{text}");
    assert!(fetch(port).is_none(), "the service is gone");
    eprintln!(
        "container timings: image build {build:?}, start to listening {listening:?}, stop {stop:?}"
    );
}
