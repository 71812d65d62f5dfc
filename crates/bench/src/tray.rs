//! The tray app's idle cost: starts the app under a private Xvfb display and D-Bus session with
//! a throw-away home, closes its window the way a user would (WM_DELETE_WINDOW), lets it idle,
//! then sums RSS and PSS over its process tree and counts its CPU time and wakeups (context
//! switches) per minute. Reports "app not built" when the binary is missing. Stops everything
//! it started.

use crate::procfs;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the idle measurement found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrayIdle {
    /// `measured`, `app not built`, or why it could not be measured.
    pub status: String,
    /// The app binary.
    pub app: String,
    /// What happened to the window.
    pub window: String,
    /// Idle seconds measured.
    pub idle_s: f64,
    /// RSS of the app's process tree, MB.
    pub rss_mb: Option<f64>,
    /// PSS of the app's process tree, MB.
    pub pss_mb: Option<f64>,
    /// Each process: name, RSS MB, PSS MB.
    pub processes: Vec<(String, f64, f64)>,
    /// CPU seconds per minute of idling.
    pub cpu_s_per_min: Option<f64>,
    /// Context switches per minute of idling.
    pub wakeups_per_min: Option<f64>,
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Processes this module started, stopped on drop (the app's tree first, then Xvfb).
struct Started {
    app: Option<Child>,
    xvfb: Option<Child>,
    home: PathBuf,
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn signal(pids: &[u32], sig: &str) {
    for pid in pids {
        let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
    }
}

fn wait_gone(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ends the descendants first (so their parent can reap them), then the child itself.
fn terminate(child: &mut Child, tree: &[u32]) {
    let below: Vec<u32> = tree
        .iter()
        .copied()
        .filter(|&p| p != child.id())
        .rev()
        .collect();
    signal(&below, "-TERM");
    wait_gone(&below, Duration::from_secs(3));
    let left: Vec<u32> = below.into_iter().filter(|&p| alive(p)).collect();
    signal(&left, "-KILL");
    signal(&[child.id()], "-TERM");
    wait_gone(&[child.id()], Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(app) = self.app.as_mut() {
            let tree = procfs::tree(app.id());
            terminate(app, &tree);
        }
        if let Some(x) = self.xvfb.as_mut() {
            terminate(x, &[x.id()]);
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn free_display() -> Option<u32> {
    (90..200).find(|n| {
        !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
    })
}

/// Measures the app's idle cost; `settle` is the time for the window to come up and for
/// WebKit's helpers to end after it closes, `idle` the measured period.
pub fn measure(app: &Path, settle: Duration, idle: Duration) -> TrayIdle {
    let mut r = TrayIdle {
        app: app.display().to_string(),
        ..TrayIdle::default()
    };
    if !app.is_file() {
        r.status = "app not built".into();
        return r;
    }
    match run(app, settle, idle, &mut r) {
        Ok(()) => r.status = "measured".into(),
        Err(e) => r.status = format!("not measured: {e}"),
    }
    r
}

fn run(app: &Path, settle: Duration, idle: Duration, r: &mut TrayIdle) -> Result<(), String> {
    let xvfb = which("Xvfb").ok_or("Xvfb is not installed")?;
    let display = free_display().ok_or("no free X display number")?;
    let home = std::env::temp_dir().join(format!("proxy-bench-tray-{}", std::process::id()));
    let _ = std::fs::create_dir_all(home.join("run"));
    let mut started = Started {
        app: None,
        xvfb: None,
        home: home.clone(),
    };
    let x = Command::new(xvfb)
        .args([
            format!(":{display}").as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting Xvfb: {e}"))?;
    started.xvfb = Some(x);
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err("Xvfb did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cmd = match which("dbus-run-session") {
        Some(d) => {
            let mut c = Command::new(d);
            c.arg("--").arg(app);
            c
        }
        None => Command::new(app),
    };
    cmd.env("DISPLAY", format!(":{display}"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("NO_AT_BRIDGE", "1")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().map_err(|e| format!("starting the app: {e}"))?;
    let root = child.id();
    started.app = Some(child);
    std::thread::sleep(settle);
    let tree = procfs::tree(root);
    let display = format!(":{display}");
    r.window = match close_windows(&display, &tree) {
        Ok(0) => "never opened".into(),
        Ok(n) => format!("{n} window(s) opened and closed"),
        Err(e) => format!("could not be closed ({e})"),
    };
    std::thread::sleep(settle);
    match count_windows(&display, &procfs::tree(root)) {
        Ok(0) => {}
        Ok(n) => r.window = format!("{n} window(s) still open after the close request"),
        Err(e) => r.window = format!("not checked after the close request ({e})"),
    }
    idle_figures(root, idle, r);
    Ok(())
}

fn app_pids(root: u32) -> Vec<u32> {
    procfs::tree(root)
        .into_iter()
        .filter(|&p| !procfs::comm(p).starts_with("dbus-"))
        .collect()
}

fn idle_figures(root: u32, idle: Duration, r: &mut TrayIdle) {
    let clk = procfs::clk_tck() as f64;
    let ticks = |pids: &[u32]| {
        pids.iter()
            .filter_map(|p| procfs::cpu_ticks(&p.to_string()))
            .sum::<u64>()
    };
    let switches = |pids: &[u32]| {
        pids.iter()
            .map(|&p| procfs::context_switches(p))
            .sum::<u64>()
    };
    let before = app_pids(root);
    let (t0, w0) = (ticks(&before), switches(&before));
    std::thread::sleep(idle);
    let after = app_pids(root);
    let common: Vec<u32> = after
        .iter()
        .copied()
        .filter(|p| before.contains(p))
        .collect();
    let (t1, w1) = (ticks(&common), switches(&common));
    let (t0c, w0c) = if common.len() == before.len() {
        (t0, w0)
    } else {
        (ticks(&common), switches(&common))
    };
    let minutes = idle.as_secs_f64() / 60.0;
    r.idle_s = idle.as_secs_f64();
    r.cpu_s_per_min = Some(t1.saturating_sub(t0c) as f64 / clk / minutes);
    r.wakeups_per_min = Some(w1.saturating_sub(w0c) as f64 / minutes);
    let (mut rss, mut pss) = (0.0, 0.0);
    for p in after {
        if let Some((rk, pk)) = procfs::rss_pss_kb(p) {
            let (rm, pm) = (rk as f64 / 1024.0, pk as f64 / 1024.0);
            rss += rm;
            pss += pm;
            r.processes.push((procfs::comm(p), rm, pm));
        }
    }
    r.rss_mb = Some(rss);
    r.pss_mb = Some(pss);
}

/// Sends WM_DELETE_WINDOW to every mapped top-level window owned by `pids`; returns how many.
fn close_windows(display: &str, pids: &[u32]) -> Result<usize, String> {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
    let x = X::connect(display)?;
    let windows = x.windows_of(pids)?;
    let (protocols, delete) = (x.atom(b"WM_PROTOCOLS")?, x.atom(b"WM_DELETE_WINDOW")?);
    for &w in &windows {
        let ev = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
        x.conn
            .send_event(false, w, EventMask::NO_EVENT, ev)
            .map_err(|e| e.to_string())?;
    }
    // A round trip (which also sends what is buffered) before hanging up: an X server can drop
    // the requests of a client that hangs up before the server has read them, which happens on
    // a busy machine.
    x.conn
        .get_input_focus()
        .map_err(|e| e.to_string())?
        .reply()
        .map_err(|e| e.to_string())?;
    Ok(windows.len())
}

/// How many mapped top-level windows `pids` own.
fn count_windows(display: &str, pids: &[u32]) -> Result<usize, String> {
    X::connect(display)?.windows_of(pids).map(|w| w.len())
}

/// A connection to the test display.
struct X {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
}

impl X {
    fn connect(display: &str) -> Result<Self, String> {
        use x11rb::connection::Connection;
        let (conn, screen) = x11rb::connect(Some(display)).map_err(|e| e.to_string())?;
        let root = conn.setup().roots.get(screen).ok_or("no screen")?.root;
        Ok(X { conn, root })
    }

    fn atom(&self, name: &[u8]) -> Result<u32, String> {
        use x11rb::protocol::xproto::ConnectionExt;
        Ok(self
            .conn
            .intern_atom(false, name)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?
            .atom)
    }

    /// The viewable top-level windows whose `_NET_WM_PID` is one of `pids`.
    fn windows_of(&self, pids: &[u32]) -> Result<Vec<u32>, String> {
        use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, MapState};
        let pid_atom = self.atom(b"_NET_WM_PID")?;
        let children = self
            .conn
            .query_tree(self.root)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?
            .children;
        Ok(children
            .into_iter()
            .filter(|&w| {
                let pid = self
                    .conn
                    .get_property(false, w, pid_atom, AtomEnum::CARDINAL, 0, 1)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .and_then(|p| p.value32()?.next());
                pid.is_some_and(|p| pids.contains(&p))
            })
            .filter(|&w| {
                self.conn
                    .get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE)
            })
            .collect())
    }
}

/// The report section.
pub fn render(t: &TrayIdle) -> String {
    let mut s = String::from("\n## Tray app, idle\n\n");
    if t.status != "measured" {
        let _ = writeln!(s, "{}: {}", t.app, t.status);
        return s;
    }
    let f = |v: Option<f64>, d: usize| v.map_or("–".into(), |v| format!("{v:.d$}"));
    let _ = writeln!(
        s,
        "{}: window {}; after {:.0} s idle: RSS {} MB, PSS {} MB over the process tree; \
         CPU {} s/min; wakeups (context switches) {}/min.\n",
        t.app,
        t.window,
        t.idle_s,
        f(t.rss_mb, 1),
        f(t.pss_mb, 1),
        f(t.cpu_s_per_min, 3),
        f(t.wakeups_per_min, 0),
    );
    let _ = writeln!(s, "| process | RSS MB | PSS MB |\n|---|---|---|");
    for (name, rss, pss) in &t.processes {
        let _ = writeln!(s, "| {name} | {rss:.1} | {pss:.1} |");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_app_is_reported_cleanly() {
        let t = measure(
            Path::new("/nonexistent/app"),
            Duration::ZERO,
            Duration::ZERO,
        );
        assert_eq!(t.status, "app not built");
        assert!(render(&t).contains("app not built"));
    }
}
