//! The proxy under test as a child process: the real release binary, pinned to its own CPU
//! with `taskset` where possible, configured by flags and `OPENWEBUI_PASSWORD`, its address read
//! from the `listening on http://…` log line, its log drained (the last lines kept for error
//! reports), and stopped with SIGTERM (SIGKILL after a grace period) when dropped.

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start the proxy.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The binary.
    pub bin: PathBuf,
    /// The CPU to pin it to, if any.
    pub cpu: Option<usize>,
    /// A private cache folder.
    pub cache_dir: PathBuf,
    /// Pass `--no-disk-cache` (when the binary has it).
    pub no_disk_cache: bool,
    /// `RUST_LOG` for the proxy, if set; its default otherwise.
    pub log: Option<String>,
}

/// A running proxy.
pub struct Proxy {
    child: Child,
    /// Its pid (taskset execs it, so this is the proxy's own).
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// True when the binary's `--help` lists `flag`.
pub fn has_flag(bin: &Path, flag: &str) -> bool {
    Command::new(bin)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
        .unwrap_or(false)
}

/// The binary's `--version` line.
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The address in a `listening on http://127.0.0.1:1234` log line.
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('/').parse().ok()
}

impl Proxy {
    /// Starts the proxy against `upstream` and waits until it listens.
    pub fn start(l: &Launch, upstream: SocketAddr) -> Result<Proxy> {
        let mut cmd = match l.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&l.bin);
                c
            }
            None => Command::new(&l.bin),
        };
        cmd.arg("--openwebui-url")
            .arg(format!("http://{upstream}"))
            .args([
                "--email",
                "bench@example.com",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--cache-dir")
            .arg(&l.cache_dir);
        if l.no_disk_cache {
            cmd.arg("--no-disk-cache");
        }
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("OPENWEBUI_") || k.starts_with("OLLAMA_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        if let Some(log) = &l.log {
            cmd.env("RUST_LOG", log);
        }
        cmd.env("OPENWEBUI_PASSWORD", "bench-password")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", l.bin.display()))?;
        let pid = child.id();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let keep = log.clone();
        std::thread::spawn(move || drain(stderr, &keep, &tx));
        let mut proxy = Proxy {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(addr) => proxy.addr = addr,
            Err(_) => bail!(
                "the proxy did not report its address:\n{}",
                proxy.log_tail()
            ),
        }
        Ok(proxy)
    }

    /// The last lines the proxy logged.
    pub fn log_tail(&self) -> String {
        let lines = self.log.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Stops it: SIGTERM, then SIGKILL after two seconds.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn drain(
    stderr: std::process::ChildStderr,
    keep: &Mutex<VecDeque<String>>,
    tx: &mpsc::Sender<SocketAddr>,
) {
    let mut sent = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if !sent {
            if let Some(addr) = parse_listening(&line) {
                sent = tx.send(addr).is_ok();
            }
        }
        let mut q = keep.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= 40 {
            q.pop_front();
        }
        q.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines() {
        let l = "2026-01-01T00:00:00Z  INFO proxy::server: listening on http://127.0.0.1:40123";
        assert_eq!(parse_listening(l), "127.0.0.1:40123".parse().ok());
        assert_eq!(
            parse_listening("listening on http://[::1]:5/ x"),
            "[::1]:5".parse().ok()
        );
        assert_eq!(
            parse_listening("{\"msg\":\"listening on http://127.0.0.1:9\"}"),
            "127.0.0.1:9".parse().ok()
        );
        assert_eq!(parse_listening("Open WebUI OK"), None);
    }
}
