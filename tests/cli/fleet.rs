//! `tsm export kubernetes|compose|nomad`: the recorded services for the engines that run
//! fleets, checked by their own tools (kubernetes-validate against the Kubernetes schemas,
//! python's hcl2 parser) and run for real where one runs here: `podman kube play` and
//! podman-compose, with the service answering on its port.

use crate::engines::{available, runs};
use crate::harness::{free_port, stdout_of, wait_until, Tsm};
use crate::podman::{Podman, Rootfs};
use crate::procfile::{answer, fetch};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A web server for the host and for a busybox image alike: busybox's httpd on $PORT (or,
/// on a host without busybox, python's), serving the `www` folder beside it, whose page says
/// hello with $GREETING.
pub const WEB: &str = "#!/bin/sh\nd=$(dirname \"$0\")\nmkdir -p \"$d/www\"\n\
                       echo \"hello from tsm ${GREETING:-}\" > \"$d/www/index.html\"\n\
                       echo \"web listening on $PORT\"\n\
                       if command -v busybox >/dev/null 2>&1; then\n\
                       exec busybox httpd -f -p \"$PORT\" -h \"$d/www\"\nfi\n\
                       cd \"$d/www\" && exec python3 -m http.server \"$PORT\" --bind 127.0.0.1\n";

/// Records `web.sh` as `web-PORT` (started, answering, then stopped): what the exports read.
pub fn recorded_web(t: &Tsm, extra: &[&str]) -> (u16, PathBuf) {
    let port = free_port();
    let script = t.script("web.sh", WEB);
    let port_s = port.to_string();
    let mut args = vec!["--port", &port_s];
    args.extend_from_slice(extra);
    args.extend(["web.sh", "web"]);
    t.start(&args);
    assert!(answer(port).contains("hello from tsm"));
    t.run(&["stop", "*"]).success();
    (port, script)
}

/// An image with busybox and `web.sh` at its host path.
pub fn web_image(podman: &Podman, t: &Tsm, script: &Path, tag: &str) {
    let root = Rootfs::with_busybox(podman.dir().join("root"));
    let at = script.to_str().unwrap();
    root.copy(script, at);
    root.write(
        &format!("{}/www/index.html", t.work.display()),
        "not written yet\n",
        0o644,
    );
    podman.import(&root, tag);
}

/// The files `tsm export ARGS` lists.
pub fn export(t: &Tsm, args: &[&str]) -> Vec<PathBuf> {
    let out = t.cmd().arg("export").args(args).assert().success();
    stdout_of(&out)
        .lines()
        .filter(|l| !l.starts_with("tsm: "))
        .map(PathBuf::from)
        .collect()
}

/// Every document of a YAML file.
pub fn yaml_docs(path: &Path) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde_json::Value::deserialize(doc).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `kubernetes-validate --strict` passes every file (when it is installed).
pub fn validate(files: &[PathBuf]) {
    let have = runs("kubernetes-validate", &["--version"]);
    if !available("kubernetes-validate (PyPI)", have) {
        return;
    }
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubernetes-validate: {text}");
    assert!(!text.contains("ERROR") && text.contains("passed"), "{text}");
}

/// A Deployment and a Service that pass the schemas, and that `podman kube play` runs: the
/// service answers on its port.
#[test]
fn kubernetes_passes_the_schemas_and_runs_under_podman_kube_play() {
    let t = Tsm::new();
    let (port, script) = recorded_web(&t, &[]);
    let dir = t.work.parent().unwrap().join("k8s");
    let files = export(
        &t,
        &[
            "kubernetes",
            dir.to_str().unwrap(),
            "--image",
            "localhost/tsm-web:1",
        ],
    );
    let file = dir.join(format!("web-{port}.yaml"));
    assert_eq!(files, vec![file.clone()], "no variables: no Secret");
    let docs = yaml_docs(&file);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service"]);
    let c = &docs[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"][0], script.to_str().unwrap());
    assert_eq!(c["workingDir"], t.work.to_str().unwrap());
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], port);
    assert_eq!(docs[1]["spec"]["ports"][0]["port"], port);
    validate(&files);
    let Some(podman) = Podman::new() else { return };
    web_image(&podman, &t, &script, "localhost/tsm-web:1");
    // podman 4.3 refuses a containerPort with --network=host; slirp4netns forwards it to
    // the same port on the host, as a cluster's pod IP would serve it.
    let file_s = file.to_str().unwrap();
    podman.ok(&["kube", "play", "--network=slirp4netns", file_s]);
    wait_until("the pod to answer on its port", || {
        fetch(port).is_some_and(|b| b.contains("hello from tsm"))
    });
    podman.ok(&["kube", "down", file_s]);
    wait_until("the port to be free again", || fetch(port).is_none());
}

/// Instances become replicas of one Deployment, env-file values and secret-named variables a
/// Secret (0600) the pods read, the memory limit a limit, a never-restarted service a Job;
/// every object in the namespace asked for; and the schemas accept it all.
#[test]
fn kubernetes_replicas_secrets_limits_jobs_and_namespace() {
    let t = Tsm::new();
    let env = t.work.join("web.env");
    std::fs::write(&env, "GREETING=hi\n").unwrap();
    let (port, _) = recorded_web(
        &t,
        &[
            "--env",
            env.to_str().unwrap(),
            "-i",
            "2",
            "--max-memory-restart",
            "64M",
        ],
    );
    t.script("once.sh", "#!/bin/sh\necho once\n");
    t.cmd()
        .env("API_TOKEN", "unused")
        .args(["start", "once.sh", "--no-port", "--restart", "never"])
        .assert()
        .success();
    let dir = t.work.parent().unwrap().join("k8s");
    let files = export(
        &t,
        &[
            "kubernetes",
            dir.to_str().unwrap(),
            "--image",
            "web:1",
            "--namespace",
            "demo",
        ],
    );
    validate(&files);
    let deploy = yaml_docs(&dir.join("web.yaml"));
    assert_eq!(deploy[0]["kind"], "Deployment");
    assert_eq!(deploy[0]["spec"]["replicas"], 2);
    let c = &deploy[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["limits"]["memory"],
        (64u64 << 20).to_string()
    );
    assert_eq!(c["envFrom"][0]["secretRef"]["name"], "web-env");
    assert_eq!(
        c["env"],
        serde_json::json!([{"name": "PORT", "value": port.to_string()}])
    );
    let secret_file = dir.join("web-env.secret.yaml");
    assert_eq!(mode(&secret_file), 0o600);
    let secret = yaml_docs(&secret_file);
    assert_eq!(secret[0]["stringData"]["GREETING"], "hi");
    assert!(!std::fs::read_to_string(dir.join("web.yaml"))
        .unwrap()
        .contains("hi\n"));
    let job = yaml_docs(&dir.join("once.yaml"));
    assert_eq!(job.len(), 1, "no PORT: no Service");
    assert_eq!(job[0]["kind"], "Job");
    assert_eq!(job[0]["spec"]["template"]["spec"]["restartPolicy"], "Never");
    for doc in deploy.iter().chain(&secret).chain(&job) {
        assert_eq!(doc["metadata"]["namespace"], "demo", "{doc}");
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "tsm"
        );
    }
}

/// Bad input writes nothing: no --image, a namespace that is no DNS label, --namespace for
/// another format.
#[test]
fn kubernetes_bad_input_writes_nothing() {
    let t = Tsm::new();
    recorded_web(&t, &[]);
    let dir = t.work.parent().unwrap().join("k8s");
    let d = dir.to_str().unwrap();
    for (args, code) in [
        (vec!["kubernetes", d], 64),
        (
            vec!["kubernetes", d, "--image", "x", "--namespace", "Bad_NS"],
            64,
        ),
        (vec!["kubernetes", d, "--image", "bad image"], 64),
        (vec!["systemd", d, "--namespace", "demo"], 64),
        (vec!["systemd", d, "--image", "x"], 64),
    ] {
        let out = t.cmd().arg("export").args(&args).assert().code(code);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.starts_with("tsm: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!dir.exists(), "{args:?} wrote something");
    }
}

/// The compose file runs under podman-compose: the service answers on its port with the
/// value of its env file, which is in an env file of its own (0600), not in compose.yaml.
#[test]
fn compose_runs_under_podman_compose() {
    let t = Tsm::new();
    let env = t.work.join("web.env");
    std::fs::write(&env, "GREETING=from-the-env-file\n").unwrap();
    let (port, script) = recorded_web(
        &t,
        &[
            "--env",
            env.to_str().unwrap(),
            "--max-memory-restart",
            "64M",
        ],
    );
    let dir = t.work.parent().unwrap().join("compose");
    let files = export(
        &t,
        &[
            "compose",
            dir.to_str().unwrap(),
            "--image",
            "localhost/tsm-web:1",
        ],
    );
    let web = format!("web-{port}");
    assert_eq!(
        files,
        vec![dir.join("compose.yaml"), dir.join(format!("{web}.env"))]
    );
    assert_eq!(mode(&files[1]), 0o600);
    let env_text = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(env_text, "GREETING='from-the-env-file'\n");
    let compose = &yaml_docs(&files[0])[0];
    assert!(!std::fs::read_to_string(&files[0])
        .unwrap()
        .contains("from-the-env-file"));
    let s = &compose["services"][&web];
    assert_eq!(s["entrypoint"][0], script.to_str().unwrap());
    assert_eq!(s["working_dir"], t.work.to_str().unwrap());
    assert_eq!(s["ports"][0], format!("{port}:{port}"));
    assert_eq!(s["restart"], "on-failure:16");
    assert_eq!(s["deploy"]["replicas"], 1);
    assert_eq!(
        s["deploy"]["resources"]["limits"]["memory"],
        (64u64 << 20).to_string()
    );
    let have = runs("podman-compose", &["--version"]);
    if !available("podman-compose (PyPI)", have) {
        return;
    }
    let Some(podman) = Podman::new() else { return };
    web_image(&podman, &t, &script, "localhost/tsm-web:1");
    // A project of its own (its network is named after it), podman kept to the test's folder.
    let project = format!("tsm-test-{port}");
    let compose = |verb: &[&str]| {
        let out = Command::new("podman-compose")
            .env("CONTAINERS_CONF", podman.dir().join("containers.conf"))
            .arg("-p")
            .arg(&project)
            .arg("--podman-args")
            .arg(podman.global_args().join(" "))
            .args(verb)
            .current_dir(&dir)
            .output()
            .expect("run podman-compose");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "podman-compose {verb:?}: {text}");
    };
    compose(&["up", "-d"]);
    wait_until(
        "the compose service to answer with its env file's value",
        || fetch(port).is_some_and(|b| b.contains("hello from tsm from-the-env-file")),
    );
    compose(&["down"]);
    wait_until("the port to be free again", || fetch(port).is_none());
}

/// `python-hcl2`'s reading of a job file as JSON (its strings keep their HCL quotes).
pub fn hcl_json(path: &Path) -> Option<serde_json::Value> {
    let script = "import hcl2, json, sys\nprint(json.dumps(hcl2.load(open(sys.argv[1]))))";
    let have = runs("python3", &["-c", "import hcl2"]);
    if !available("python-hcl2 (PyPI)", have) {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hcl2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// An HCL string as python-hcl2 gives it (`"\"web\""`), unquoted.
pub fn unq(v: &serde_json::Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    serde_json::from_str::<String>(s).unwrap_or_else(|_| s.to_string())
}

/// The one block labelled in `blocks` (`[{"\"label\"": {...}}]`): its label and body.
pub fn labelled(blocks: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    blocks
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_object().unwrap().iter())
        .map(|(k, v)| {
            (
                serde_json::from_str::<String>(k).unwrap_or(k.clone()),
                v.clone(),
            )
        })
        .collect()
}

/// The Nomad job parses (python-hcl2) with a group per app, its count, a raw_exec task
/// whose command, run as Nomad would (program, args, env), serves the app; the memory, the
/// restart policy and the TCP check; and with --image a docker task instead.
#[test]
fn nomad_job_parses_and_its_command_runs() {
    let t = Tsm::new();
    let env = t.work.join("web.env");
    std::fs::write(&env, "GREETING='${NOT_NOMAD} \"q\"'\n").unwrap();
    let env_s = env.to_str().unwrap().to_string();
    let (port, script) = recorded_web(
        &t,
        &["--env", &env_s, "-i", "2", "--max-memory-restart", "100M"],
    );
    let dir = t.work.parent().unwrap().join("nomad");
    let files = export(&t, &["nomad", dir.to_str().unwrap(), "--app", "shop"]);
    assert_eq!(files, vec![dir.join("shop.nomad.hcl")]);
    assert_eq!(
        mode(&files[0]),
        0o600,
        "the job holds the variables' values"
    );
    let Some(doc) = hcl_json(&files[0]) else {
        return;
    };
    let jobs = labelled(&doc["job"]);
    assert_eq!(jobs.len(), 1);
    let (name, job) = &jobs[0];
    assert_eq!(name, "shop");
    assert_eq!(unq(&job["type"]), "service");
    let groups = labelled(&job["group"]);
    assert_eq!(groups.len(), 1, "two instances, one group");
    let (gname, group) = &groups[0];
    assert_eq!(gname, "web");
    assert_eq!(group["count"], 2);
    assert_eq!(group["network"][0]["port"][0]["\"tcp\""]["static"], port);
    assert_eq!(unq(&group["service"][0]["check"][0]["type"]), "tcp");
    assert_eq!(group["restart"][0]["attempts"], 16);
    let tasks = labelled(&group["task"]);
    let task = &tasks[0].1;
    assert_eq!(unq(&task["driver"]), "raw_exec");
    assert_eq!(task["resources"][0]["memory"], 100);
    let config = &task["config"][0];
    let program = unq(&config["command"]);
    // Nomad reads `$${` as a literal `${`, as python-hcl2 keeps it: undo it as Nomad would.
    let nomad = |v: &serde_json::Value| unq(v).replace("$${", "${").replace("%%{", "%{");
    let args: Vec<String> = config["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(nomad)
        .collect();
    assert!(
        args.contains(&script.to_str().unwrap().to_string()),
        "{args:?}"
    );
    let vars: Vec<(String, String)> = task["env"][0]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .map(|(k, v)| (k.clone(), nomad(v)))
        .collect();
    assert!(
        vars.contains(&("GREETING".into(), "${NOT_NOMAD} \"q\"".into())),
        "{vars:?}"
    );
    // What raw_exec runs: the program with its args and env, from anywhere.
    let mut run = Command::new(&program);
    run.args(&args)
        .envs(vars)
        .env_remove("TETRA_DIR")
        .current_dir("/");
    let mut child = run.spawn().expect("run the task's command");
    let body = {
        let mut body = None;
        wait_until("the task's command to serve", || {
            body = fetch(port);
            body.is_some()
        });
        body.unwrap_or_default()
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("hello from tsm ${NOT_NOMAD} \"q\""), "{body}");
    // With an image: the docker driver, its entrypoint, folder and port.
    let files = export(
        &t,
        &[
            "nomad",
            dir.to_str().unwrap(),
            "--app",
            "shop",
            "--image",
            "web:1",
            "--force",
        ],
    );
    let Some(doc) = hcl_json(&files[0]) else {
        return;
    };
    let task = &labelled(&labelled(&labelled(&doc["job"])[0].1["group"])[0].1["task"])[0].1;
    assert_eq!(unq(&task["driver"]), "docker");
    assert_eq!(unq(&task["config"][0]["image"]), "web:1");
    assert_eq!(
        unq(&task["config"][0]["entrypoint"][0]),
        script.to_str().unwrap()
    );
    assert_eq!(
        unq(&task["config"][0]["work_dir"]),
        t.work.to_str().unwrap()
    );
}

/// Hostile values survive each format exactly (quotes, blanks, `${…}`, `%{…}`, newlines in
/// arguments and variables), the name becomes a DNS label, and what a format cannot carry
/// (a newline in a value for a Compose env file) is refused with nothing written.
#[test]
fn hostile_values_survive_or_are_refused() {
    let t = Tsm::new();
    t.script("odd.sh", "#!/bin/sh\nexec sleep 300\n");
    let args = [
        "a b",
        "it's \"q\"",
        "${HOME}",
        "%{x}",
        "line1\nline2",
        "back\\slash",
    ];
    let config = serde_json::json!({"apps": [{
        "name": "Odd_App", "script": "./odd.sh", "args": args,
        "env": {"NOTE": "multi\nline ${x} %{y}", "API_TOKEN": "tok\nen"},
    }]});
    std::fs::write(t.work.join("odd.json"), config.to_string()).unwrap();
    t.run(&["start", "odd.json"]).success();
    t.run(&["stop", "*"]).success();
    let root = t.work.parent().unwrap();
    let k8s = root.join("k8s");
    export(&t, &["kubernetes", k8s.to_str().unwrap(), "--image", "x:1"]);
    let docs = yaml_docs(&k8s.join("odd-app.yaml"));
    let c = &docs[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["args"], serde_json::json!(args));
    assert_eq!(c["env"][0]["value"], "multi\nline ${x} %{y}");
    let secret = yaml_docs(&k8s.join("odd-app-env.secret.yaml"));
    assert_eq!(secret[0]["stringData"]["API_TOKEN"], "tok\nen");
    // Compose keeps the inline value, but an env file line cannot hold a newline.
    let compose = root.join("compose");
    let out = t
        .cmd()
        .args([
            "export",
            "compose",
            compose.to_str().unwrap(),
            "--image",
            "x:1",
        ])
        .assert()
        .code(65);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("API_TOKEN") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!compose.exists());
    let nomad = root.join("nomad");
    let files = export(&t, &["nomad", nomad.to_str().unwrap()]);
    let Some(doc) = hcl_json(&files[0]) else {
        return;
    };
    let group = &labelled(&labelled(&doc["job"])[0].1["group"]);
    assert_eq!(group[0].0, "odd-app");
    let task = &labelled(&group[0].1["task"])[0].1;
    let nomad_text = |v: &serde_json::Value| unq(v).replace("$${", "${").replace("%%{", "%{");
    let got: Vec<String> = task["config"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(nomad_text)
        .collect();
    assert_eq!(got[got.len() - args.len()..], args);
    assert_eq!(nomad_text(&task["env"][0]["NOTE"]), "multi\nline ${x} %{y}");
}
