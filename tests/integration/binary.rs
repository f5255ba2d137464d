//! The `vastgate` binary as an operator runs it: the Dockerfile's run commands (its ENV, CMD
//! and HEALTHCHECK, read from the file) outside a container, since no image registry is
//! reachable here to build the image itself; and `/readyz` through `vastgate probe` while the
//! VAST backend goes away and comes back.

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::{
    client::client,
    cluster_process::EmulatorProcess,
    harness::{TestServer, data_dir},
};

/// The run-time part of the Dockerfile: the last stage's ENV, WORKDIR, COPY, HEALTHCHECK, ENTRYPOINT, CMD.
#[derive(Debug, Default)]
struct RuntimeStage {
    env: Vec<(String, String)>,
    workdir: String,
    copies: Vec<(String, String)>,
    healthcheck: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not an exec-form array: {text}: {e}"))
}

fn runtime_stage(dockerfile: &str) -> RuntimeStage {
    let joined = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let mut stage = RuntimeStage::default();
    for line in &lines[last_from + 1..] {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        match instruction {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV key=value");
                    stage.env.push((k.to_owned(), v.to_owned()));
                }
            }
            "WORKDIR" => stage.workdir = rest.trim().to_owned(),
            "COPY" if !rest.starts_with("--from") => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                stage
                    .copies
                    .push((parts[0].to_owned(), parts[1].to_owned()));
            }
            "HEALTHCHECK" => {
                let cmd = rest.split_once("CMD ").expect("HEALTHCHECK … CMD [...]").1;
                stage.healthcheck = json_array(cmd);
            }
            "ENTRYPOINT" => stage.entrypoint = json_array(rest),
            "CMD" => stage.cmd = json_array(rest),
            _ => {}
        }
    }
    stage
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a command of the image with the binary in place of `vastgate` on the PATH.
fn image_command(args: &[String], map: &dyn Fn(&str) -> String) -> Command {
    assert_eq!(
        args[0], "vastgate",
        "the image's commands run the vastgate binary"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_vastgate"));
    command.args(args[1..].iter().map(|a| map(a)));
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("run vastgate")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_images_run_commands_write_demo_data_answer_and_pass_the_health_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stage = runtime_stage(&std::fs::read_to_string(root.join("Dockerfile")).unwrap());
    assert!(
        !stage.healthcheck.is_empty() && !stage.cmd.is_empty(),
        "{stage:?}"
    );

    // The container's paths and ports, moved to a temp dir and free loopback ports.
    let home = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_port(), free_port());
    let copies = stage.copies.clone();
    let workdir = stage.workdir.clone();
    let home_path = home.path().to_owned();
    let map = move |arg: &str| -> String {
        if let Some((source, _)) = copies.iter().find(|(_, dest)| dest == arg) {
            return root.join(source).display().to_string();
        }
        arg.replace(&workdir, &home_path.display().to_string())
            .replace("0.0.0.0:50051", &format!("127.0.0.1:{grpc}"))
            .replace("0.0.0.0:9090", &format!("127.0.0.1:{http}"))
            .replace("127.0.0.1:9090", &format!("127.0.0.1:{http}"))
    };

    // Nothing listens yet: the health check fails.
    let health = run(image_command(&stage.healthcheck, &map));
    assert!(!health.status.success(), "{health:?}");

    let server_args: Vec<String> = stage.entrypoint.iter().chain(&stage.cmd).cloned().collect();
    let mut serve = image_command(&server_args, &map);
    serve
        .current_dir(home.path())
        .envs(stage.env.iter().map(|(k, v)| (k.clone(), map(v))))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(home.path().join("server.log")).unwrap());
    let mut server = Killed(serve.spawn().expect("spawn the image's CMD"));

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let health = run(image_command(&stage.healthcheck, &map));
        if health.status.success() {
            break;
        }
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "the server exited before it was healthy"
        );
        assert!(Instant::now() < deadline, "never healthy: {health:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // `--demo` wrote the dataset into the empty data folder, and the server answers over it.
    let parquet = home.path().join("data/demo/sensors.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let expected: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM read_parquet('{}')", parquet.display()),
            [],
            |r| r.get(0),
        )
        .unwrap();
    let counted = client(
        &format!("http://127.0.0.1:{grpc}"),
        &["--format", "json", "count", "demo.sensors"],
    )
    .await;
    let line: serde_json::Value = serde_json::from_slice(&counted.stdout).unwrap_or_default();
    assert_eq!(line["count"].as_i64(), Some(expected), "{counted:?}");

    // SIGTERM drains and exits 0; the logs were JSON lines, as the image's ENV asks.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || server.0.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(home.path().join("server.log")).unwrap();
    for line in logs.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert!(entry.get("level").is_some(), "{entry}");
    }
}

/// `vastgate probe` against the server's HTTP port: exit status and what it printed.
async fn probe(http: std::net::SocketAddr) -> (bool, String) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_vastgate"))
            .args(["probe", "--http", &http.to_string()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn wait_probe(http: std::net::SocketAddr, ok: bool, why: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (success, text) = probe(http).await;
        if success == ok {
            return text;
        }
        assert!(Instant::now() < deadline, "{why}: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readyz_turns_503_while_the_backend_is_down_and_200_when_it_returns() {
    let mut emulator = EmulatorProcess::start(data_dir(), 0);
    let server = TestServer::with_vast(
        &[&emulator.url],
        "[vast.health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n",
    )
    .await;
    let text = wait_probe(server.http, true, "ready with the emulator up").await;
    assert!(text.contains("200 OK"), "{text}");

    emulator.kill();
    let text = wait_probe(server.http, false, "not ready with the emulator gone").await;
    assert!(
        text.contains("503") && text.contains("backend not reachable"),
        "{text}"
    );

    emulator.restart();
    let text = wait_probe(server.http, true, "ready again once the emulator is back").await;
    assert!(text.contains("200 OK"), "{text}");
}
