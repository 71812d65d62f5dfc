//! `proxy-bench`: the proxy's end-to-end benchmark. `run` starts a fast fake Open WebUI, then for
//! each scenario sends closed-loop load straight to it (the zero-overhead limit) and through a
//! fresh proxy process, validates every response, and writes a Markdown report (and JSON
//! beside it). `tray` measures the tray app's idle cost. Loopback only; every phase is bounded
//! in time; every process it starts is stopped.
//!
//! # Layout
//! - `fake`: the fake upstream. `load`: the load generator. `check`: response validation.
//! - `scenario`: scenarios, requests and figures. `proxy`: the proxy child process.
//! - `procfs`: /proc readings. `stats`: percentiles. `report`: the Markdown page.
//! - `tray`: the tray app's idle measurement.

mod check;
mod fake;
mod load;
mod procfs;
mod proxy;
mod report;
mod scenario;
mod stats;
mod tray;
mod upstream;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use scenario::{Env, Route};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "proxy-bench",
    about = "End-to-end benchmark of openwebui-ollama-proxy"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the scenarios and write the report.
    Run(RunArgs),
    /// Measure the tray app's idle cost only.
    Tray(TrayArgs),
    /// Serve the fake Open WebUI (used by `run`; counters on stdin/stdout).
    #[command(hide = true)]
    Fake(FakeArgs),
}

#[derive(Args)]
struct FakeArgs {
    /// Piece counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pieces: Vec<usize>,
    /// Send each SSE reply in one write.
    #[arg(long)]
    burst: bool,
    /// Microseconds between SSE events.
    #[arg(long, conflicts_with = "burst")]
    interval_us: Option<u64>,
}

impl FakeArgs {
    fn pacing(&self) -> fake::Pacing {
        pacing(self.burst, self.interval_us.map(Duration::from_micros))
    }
}

/// The fake's pacing from the flags.
fn pacing(burst: bool, interval: Option<Duration>) -> fake::Pacing {
    match (burst, interval) {
        (true, _) => fake::Pacing::Burst,
        (false, Some(d)) if !d.is_zero() => fake::Pacing::Every(d),
        _ => fake::Pacing::Event,
    }
}

#[derive(Args)]
struct RunArgs {
    /// The proxy binary (default: $CARGO_TARGET_DIR or target, release/openwebui-ollama-proxy).
    #[arg(long)]
    proxy: Option<PathBuf>,
    /// Also run the chat scenarios through this binary: the Go baseline that
    /// `scripts/bench --go-baseline` builds from crates/bench/go-baseline.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Short windows (the whole run in well under 30 s).
    #[arg(long)]
    quick: bool,
    /// Only this scenario, or those whose name contains this (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Skip the direct (zero-overhead) runs.
    #[arg(long)]
    no_direct: bool,
    /// Do not pin the proxy and the load to separate CPUs.
    #[arg(long)]
    no_pin: bool,
    /// The fake upstream sends each SSE reply in one write instead of one write per event.
    #[arg(long)]
    burst: bool,
    /// The fake upstream waits this many milliseconds between SSE events, as a model writing
    /// tokens would (default: none, as fast as it can). Use longer windows (--seconds) with it:
    /// a 64-piece reply then takes 64 intervals.
    #[arg(long, conflicts_with = "burst")]
    token_interval_ms: Option<f64>,
    /// Where to write the Markdown report (JSON goes beside it).
    #[arg(long, default_value = "bench/report.md")]
    out: PathBuf,
    /// Also measure this tray app binary's idle cost.
    #[arg(long)]
    app: Option<PathBuf>,
    /// Idle seconds for the tray measurement.
    #[arg(long, default_value_t = 20)]
    app_idle: u64,
    /// RUST_LOG for the proxy (default: its own, info).
    #[arg(long)]
    proxy_log: Option<String>,
    /// Length of each measured window in seconds (default: 3, or 0.8 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// Run each scenario this many times and keep the run with the median CPU figure
    /// (default: 3, or 1 with --quick).
    #[arg(long)]
    repeat: Option<usize>,
    /// Stop starting new runs after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

impl RunArgs {
    fn pacing(&self) -> fake::Pacing {
        let interval = self
            .token_interval_ms
            .filter(|ms| ms.is_finite() && *ms > 0.0)
            .map(|ms| Duration::from_secs_f64(ms / 1000.0));
        pacing(self.burst, interval)
    }
}

#[derive(Args)]
struct TrayArgs {
    /// The app binary (default: $CARGO_TARGET_DIR or target, release/openwebui-ollama-proxy-app).
    #[arg(long)]
    app: Option<PathBuf>,
    /// Seconds to measure while idle.
    #[arg(long, default_value_t = 30)]
    idle: u64,
    /// Seconds for the window to open, and again for its helpers to end after closing.
    #[arg(long, default_value_t = 5)]
    settle: u64,
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        Cmd::Run(a) => run(a),
        Cmd::Fake(a) => fake::serve(&a.pieces, a.pacing()).map(|()| true),
        Cmd::Tray(a) => {
            let app = a
                .app
                .unwrap_or_else(|| release_bin("openwebui-ollama-proxy-app"));
            let t = tray::measure(
                &app,
                Duration::from_secs(a.settle),
                Duration::from_secs(a.idle),
            );
            println!("{}", tray::render(&t));
            Ok(true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("proxy-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn release_bin(name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("release").join(name)
}

fn has_command(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Pins this process to one allowed CPU and returns (proxy CPU, load CPU), when there are two.
fn pin(no_pin: bool) -> (Option<usize>, Option<usize>) {
    let cpus = procfs::allowed_cpus();
    if no_pin || cpus.len() < 2 || !has_command("taskset") {
        return (None, None);
    }
    let me = std::process::id().to_string();
    let load = cpus[1].to_string();
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", &load, &me])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        (Some(cpus[0]), Some(cpus[1]))
    } else {
        (None, None)
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_owned();
    let cores = procfs::machine().cpus.len();
    format!("{model}, {cores} CPUs, Linux {}", shell("uname", &["-r"]))
}

fn run(a: RunArgs) -> Result<bool> {
    let bin = a
        .proxy
        .clone()
        .unwrap_or_else(|| release_bin("openwebui-ollama-proxy"));
    if !bin.is_file() {
        bail!("no proxy binary at {}: build it with `cargo build --release -p openwebui-ollama-proxy`", bin.display());
    }
    let (proxy_cpu, load_cpu) = pin(a.no_pin);
    let workers = procfs::allowed_cpus().len().max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    let cache_dir = std::env::temp_dir().join(format!("proxy-bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&cache_dir).context("creating the cache folder")?;
    let launch = proxy::Launch {
        no_disk_cache: proxy::has_flag(&bin, "--no-disk-cache"),
        bin: bin.clone(),
        cpu: proxy_cpu,
        cache_dir: cache_dir.clone(),
        log: a.proxy_log.clone(),
    };
    if let Some(b) = a.baseline.as_ref().filter(|b| !b.is_file()) {
        bail!("no Go baseline binary at {}", b.display());
    }
    let baseline = a.baseline.clone().map(|b| proxy::Launch {
        no_disk_cache: false,
        bin: b,
        cpu: proxy_cpu,
        cache_dir: cache_dir.clone(),
        log: None,
    });
    let pinning = match (proxy_cpu, load_cpu) {
        (Some(p), Some(l)) => format!(
            "proxy on CPU {p}; load generator on CPU {l} ({workers} runtime thread); the fake \
             upstream (its own process) on CPU {l} on the proxy route and on CPU {p} on the \
             direct route, so both routes cross between the CPUs"
        ),
        _ => "none (fewer than two CPUs, taskset missing, or --no-pin)".into(),
    };
    let meta = report::Meta {
        when: shell("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        machine: machine(),
        pinning,
        proxy: format!(
            "{} ({}){}",
            proxy::version(&bin),
            bin.display(),
            if launch.no_disk_cache {
                ", --no-disk-cache"
            } else {
                ""
            }
        ),
        mode: if a.quick {
            "quick".into()
        } else {
            "full".into()
        },
        baseline: a
            .baseline
            .as_ref()
            .map(|b| format!("{} ({})", proxy::version(b), b.display())),
        pacing: a.pacing().describe(),
    };
    let figures = rt.block_on(scenarios(&a, launch, baseline, proxy_cpu, load_cpu))?;
    let _ = std::fs::remove_dir_all(&cache_dir);
    drop(rt);
    let tray = a.app.as_deref().map(|app| {
        let (settle, idle) = if a.quick {
            (2, a.app_idle.min(3))
        } else {
            (5, a.app_idle)
        };
        tray::measure(app, Duration::from_secs(settle), Duration::from_secs(idle))
    });
    let page = report::render(&meta, &figures, tray.as_ref());
    write_report(&a.out, &page, &meta, &figures, tray.as_ref())?;
    println!("{page}");
    Ok(figures.iter().all(|f| f.errors == 0))
}

async fn scenarios(
    a: &RunArgs,
    launch: proxy::Launch,
    baseline: Option<proxy::Launch>,
    server_cpu: Option<usize>,
    load_cpu: Option<usize>,
) -> Result<Vec<scenario::Figures>> {
    let fake = upstream::FakeProc::start(&[64, scenario::LONG], a.pacing())?;
    let env = Env {
        fake,
        server_cpu,
        load_cpu,
        launch,
        baseline,
        clk_tck: procfs::clk_tck(),
        quick: a.quick,
        seconds: a.seconds,
        image: scenario::image_base64(scenario::IMAGE_BYTES).into(),
    };
    let began = Instant::now();
    let mut out = Vec::new();
    let all = scenario::all();
    let wanted = |name: &str| {
        a.only.is_empty()
            || a.only.iter().any(|o| {
                let exact = all.iter().any(|s| s.name == o.as_str());
                if exact {
                    name == o.as_str()
                } else {
                    name.contains(o.as_str())
                }
            })
    };
    let selected: Vec<_> = all.iter().filter(|s| wanted(s.name)).cloned().collect();
    for sc in selected {
        for route in [Route::Direct, Route::Proxy, Route::Baseline] {
            let skip = match route {
                Route::Direct => a.no_direct,
                Route::Proxy => false,
                Route::Baseline => env.baseline.is_none() || !sc.kind.baseline_serves(),
            };
            if skip {
                continue;
            }
            if began.elapsed() > Duration::from_secs(a.max_seconds) {
                eprintln!("time limit reached; skipping {} ({route:?})", sc.name);
                continue;
            }
            let mut runs = Vec::new();
            let repeat = a.repeat.unwrap_or(if a.quick { 1 } else { 3 }).max(1);
            for _ in 0..repeat {
                runs.push(scenario::run(&env, &sc, route).await?);
            }
            let f = scenario::median(runs);
            eprintln!(
                "{:<18} {:<6} {:>7} req {:>9.0} req/s  proxy CPU {} ms/req  errors {}",
                sc.name,
                f.route,
                f.requests,
                f.rps,
                f.proxy_cpu_ms.map_or("–".into(), |c| format!("{c:.4}")),
                f.errors
            );
            out.push(f);
        }
    }
    Ok(out)
}

fn write_report(
    out: &Path,
    page: &str,
    meta: &report::Meta,
    figures: &[scenario::Figures],
    tray: Option<&tray::TrayIdle>,
) -> Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, page).with_context(|| format!("writing {}", out.display()))?;
    let json = serde_json::json!({
        "when": meta.when, "machine": meta.machine, "pinning": meta.pinning, "proxy": meta.proxy,
        "mode": meta.mode, "pacing": meta.pacing, "figures": figures, "tray": tray,
    });
    let path = out.with_extension("json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
