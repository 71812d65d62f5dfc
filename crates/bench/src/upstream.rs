//! The fake upstream as a child process (`proxy-bench fake`), so its CPU time is its own: on
//! the direct route it sits on the CPU the proxy would use and its CPU time per request is the
//! zero-overhead server cost; on the proxy route it moves next to the load generator. Counters
//! are read over its stdin/stdout, so reading them adds no connection or request.

use crate::fake::{Pacing, Seen};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// A running fake upstream process.
pub struct FakeProc {
    child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    /// Its pid.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// How many models it lists.
    pub model_count: usize,
}

impl FakeProc {
    /// Starts `proxy-bench fake` for these piece counts.
    pub fn start(piece_counts: &[usize], pacing: Pacing) -> Result<FakeProc> {
        let me = std::env::current_exe().context("finding proxy-bench itself")?;
        let counts: Vec<String> = piece_counts.iter().map(usize::to_string).collect();
        let mut cmd = Command::new(me);
        cmd.arg("fake")
            .arg("--pieces")
            .arg(counts.join(","))
            .args(pacing.args());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the fake upstream")?;
        let pid = child.id();
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(addr) = crate::proxy::parse_listening(&line) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the fake upstream did not report its address: {line:?}");
        };
        let model_count = crate::fake::model_count(piece_counts);
        Ok(FakeProc {
            child,
            io: Mutex::new((stdin, stdout)),
            pid,
            addr,
            model_count,
        })
    }

    /// Its counters now (zeros if it cannot be asked).
    pub fn seen(&self) -> Seen {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let (stdin, stdout) = &mut *io;
        let mut line = String::new();
        let asked = writeln!(stdin, "s").and_then(|()| stdin.flush()).is_ok();
        if !asked || stdout.read_line(&mut line).is_err() {
            return Seen::default();
        }
        serde_json::from_str(&line).unwrap_or_default()
    }

    /// Moves it (all threads) to one CPU.
    pub fn pin(&self, cpu: usize) {
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", &cpu.to_string(), &self.pid.to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
