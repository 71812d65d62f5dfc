//! The headless binary as a user runs it: flags (the predecessor's, Go-style spellings too),
//! environment variables, secrets from stdin, a file or the environment, build information,
//! and the one-line errors for bad flags, bad URLs and a taken port. Runs the real executable.

use crate::fake;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_openwebui-ollama-proxy");

/// The binary with a clean environment: no inherited settings, no keychain, a private HOME.
fn cmd(home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A started proxy process and everything it printed to stderr so far.
struct Running {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `c` and waits (bounded) for its "listening on" line.
    fn start(c: &mut Command, stdin: Option<&str>) -> Running {
        c.stderr(Stdio::piped()).stdout(Stdio::null());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).unwrap();
        }
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap().to_string();
                return Running {
                    child,
                    url,
                    stderr: rx,
                };
            }
            seen.push(line);
        }
        let _ = child.kill();
        let status = child.wait();
        panic!("no listening line ({status:?}); stderr: {seen:#?}");
    }

    /// SIGTERM, then the exit status and the rest of stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        // The reader thread may still be passing on the last lines; it ends at EOF.
        let mut rest = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(10)) {
            rest.push(line);
        }
        (status, rest.join("\n"))
    }
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn help_lists_every_flag_of_the_older_program() {
    let home = tempfile::tempdir().unwrap();
    let out = run(cmd(home.path()).arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--openwebui-url",
        "--email",
        "--password",
        "--host",
        "--port",
        "--cache-dir",
        "--max-body",
        "--max-error-body",
        "--tags-ttl",
        "--show-ttl",
        "--timeout",
        "--stream-idle-timeout",
        "--shutdown-timeout",
        "--cors-origins",
        "--rate-limit",
        "--ollama-version",
        "--info",
        "--api-key",
        "--password-file",
        "--password-stdin",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("[default: 127.0.0.1]") && help.contains("[default: 11434]"));
}

#[test]
fn version_and_build_information() {
    let home = tempfile::tempdir().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let out = run(cmd(home.path()).arg("--version"));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("openwebui-ollama-proxy {version}")
    );
    let out = run(cmd(home.path()).args(["--info", "json"]));
    assert!(out.status.success());
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["name"], "openwebui-ollama-proxy");
    assert_eq!(info["version"], version);
    for key in ["updated", "build", "description"] {
        assert!(info[key].is_string(), "{key} in {info}");
    }
    let out = run(cmd(home.path()).arg("-i"));
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Name: openwebui-ollama-proxy"));
}

#[test]
fn bad_flags_and_missing_settings_are_one_line_errors() {
    let home = tempfile::tempdir().unwrap();
    let out = run(cmd(home.path()).arg("--no-such-flag"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown flags exit 2, as Go's flag package did"
    );
    let out = run(&mut cmd(home.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("Error: required flags: --openwebui-url"));
    let out = run(cmd(home.path()).args(["--openwebui-url", "ftp://owui", "--api-key", "sk-x"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid Open WebUI URL"),
        "{}",
        text(&out.stderr)
    );
    let out = run(cmd(home.path()).args(["--openwebui-url", "http://h", "--email", "a@b.c"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("a password for a@b.c"),
        "{}",
        text(&out.stderr)
    );
    let out = run(cmd(home.path()).args([
        "--openwebui-url",
        "http://h",
        "--api-key",
        "sk-x",
        "--timeout",
        "10",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid duration"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_taken_port_says_another_ollama_may_be_running() {
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(cmd(home.path())
        .args(["--openwebui-url", "http://127.0.0.1:9", "--port", &port])
        .env("OPENWEBUI_API_KEY", "sk-0123"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("another Ollama may be running") && err.contains("--port"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn go_style_flags_and_a_password_on_stdin_serve_the_models() {
    let fake = fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args([
        "-openwebui-url",
        &fake.url,
        "-email",
        fake::EMAIL,
        "-port",
        "0",
    ])
    .args(["--password-stdin", "--no-disk-cache"]);
    let password = format!("{}\n", fake::PASSWORD);
    let proxy = tokio::task::spawn_blocking(move || Running::start(&mut c, Some(&password)))
        .await
        .unwrap();
    let tags = format!("{}/api/tags", proxy.url);
    let (status, body) = tokio::task::spawn_blocking(move || get(&tags))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(!v["models"].as_array().unwrap().is_empty(), "{v}");
    let (exit, log) = tokio::task::spawn_blocking(move || proxy.stop())
        .await
        .unwrap();
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_from_a_file_or_the_environment_never_reach_the_log() {
    let fake = fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("password");
    std::fs::write(&file, format!("{}\n", fake::PASSWORD)).unwrap();
    let mut c = cmd(home.path());
    c.args([
        "--openwebui-url",
        &fake.url,
        "--email",
        fake::EMAIL,
        "--port",
        "0",
    ])
    .arg("--password-file")
    .arg(&file)
    .args(["--no-disk-cache"])
    .env("RUST_LOG", "debug");
    let proxy = tokio::task::spawn_blocking(move || Running::start(&mut c, None))
        .await
        .unwrap();
    let chat = format!("{}/api/tags", proxy.url);
    let (status, _) = tokio::task::spawn_blocking(move || get(&chat))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let token = fake
        .requests_to("/api/models")
        .last()
        .and_then(|r| r.bearer())
        .unwrap();
    let (_, log) = tokio::task::spawn_blocking(move || proxy.stop())
        .await
        .unwrap();
    assert!(!log.contains(fake::PASSWORD), "the password is in the log");
    assert!(!log.contains(&token), "the session token is in the log");

    let mut c = cmd(home.path());
    c.args([
        "--openwebui-url",
        &fake.url,
        "--port",
        "0",
        "--no-disk-cache",
    ])
    .env("OPENWEBUI_API_KEY", fake::API_KEY)
    .env("RUST_LOG", "debug");
    let proxy = tokio::task::spawn_blocking(move || Running::start(&mut c, None))
        .await
        .unwrap();
    let root = format!("{}/", proxy.url);
    let (status, body) = tokio::task::spawn_blocking(move || get(&root))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "Ollama is running"));
    let (_, log) = tokio::task::spawn_blocking(move || proxy.stop())
        .await
        .unwrap();
    assert!(!log.contains(fake::API_KEY), "the API key is in the log");
}
