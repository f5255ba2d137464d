//! The Python interpreter for the tests that drive real Python clients (the official `vastdb`
//! SDK, pyarrow.flight): `$VASTGATE_PYTHON`, else `.venv/bin/python`, else a `.venv` created
//! here from `tests/sdk/requirements.txt`, so a plain `cargo test --release` works on a fresh
//! machine with python3.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// Serializes venv creation between tests running in parallel.
static VENV: Mutex<()> = Mutex::new(());

pub(crate) fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("VASTGATE_PYTHON") {
        return PathBuf::from(path);
    }
    let _guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        println!(
            "creating {} from tests/sdk/requirements.txt",
            venv.display()
        );
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv (install python3 or set VASTGATE_PYTHON)");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "-r"])
            .arg(root.join("tests/sdk/requirements.txt"))
            .status()
            .expect("pip install");
        assert!(
            status.success(),
            "pip install -r tests/sdk/requirements.txt failed"
        );
    }
    python
}

/// Runs a Python script to completion off the async runtime; panics with its output on failure.
pub(crate) async fn run_script(script: &str, args: Vec<String>) -> String {
    let python = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    println!(
        "running {} {} {}",
        python.display(),
        script.display(),
        args.join(" ")
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(args)
            .output()
            .expect("run the script")
    })
    .await
    .expect("script task");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
