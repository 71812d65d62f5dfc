//! The scenarios, the requests they send (through the proxy, or straight to the fake upstream
//! for the zero-overhead limit) and the figures each run yields: throughput, latencies, the
//! proxy's CPU time per request, its memory, new upstream connections and how busy the machine
//! was. Each proxy run gets a fresh proxy process, so its peak RSS belongs to that scenario.

use crate::check::{answer, Field};
use crate::fake::model_id;
use crate::load::{self, Expect, Job, Plan};
use crate::procfs;
use crate::proxy::{Launch, Proxy};
use crate::stats::{ms, Samples};
use crate::upstream::FakeProc;
use anyhow::Result;
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Streamed `/api/chat`.
    ChatStream,
    /// Non-streamed `/api/chat`.
    ChatWhole,
    /// Streamed `/api/generate`.
    Generate,
    /// `/api/tags` (cached by the proxy).
    Tags,
    /// Streamed `/api/chat` with one large image.
    Image,
}

impl Kind {
    /// Whether the Go baseline serves this kind of request (it has the chat path only).
    pub fn baseline_serves(self) -> bool {
        matches!(self, Kind::ChatStream | Kind::ChatWhole)
    }
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (also the `--only` filter).
    pub name: &'static str,
    /// What it sends.
    pub kind: Kind,
    /// Concurrent connections.
    pub concurrency: usize,
    /// Pieces per streamed reply.
    pub pieces: usize,
    /// Most measured requests in a full run and in a quick run.
    pub max_requests: (u64, u64),
}

/// The size of the image in the image scenario, as base64 in the request.
pub const IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Pieces of the long stream.
pub const LONG: usize = 2000;

/// Every scenario, in run order.
pub fn all() -> Vec<Scenario> {
    let s = |name, kind, concurrency, pieces, max_requests| Scenario {
        name,
        kind,
        concurrency,
        pieces,
        max_requests,
    };
    vec![
        s("chat-c1", Kind::ChatStream, 1, 64, (20_000, 2_000)),
        s("chat-c16", Kind::ChatStream, 16, 64, (100_000, 10_000)),
        s("chat-c64", Kind::ChatStream, 64, 64, (100_000, 10_000)),
        s(
            "chat-nostream-c64",
            Kind::ChatWhole,
            64,
            64,
            (200_000, 20_000),
        ),
        s("generate-c16", Kind::Generate, 16, 64, (100_000, 10_000)),
        s("tags-c64", Kind::Tags, 64, 0, (1_000_000, 100_000)),
        s("long-2000-c1", Kind::ChatStream, 1, LONG, (400, 40)),
        s("image-10MB-c1", Kind::Image, 1, 64, (12, 4)),
    ]
}

/// Which way the load goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Straight to the fake upstream.
    Direct,
    /// Through the proxy.
    Proxy,
    /// Through the Go baseline (`crates/bench/go-baseline`), where the scenario is one it serves.
    Baseline,
}

/// What the runs share.
pub struct Env {
    /// The fake upstream.
    pub fake: FakeProc,
    /// The proxy's CPU (the fake's on the direct route), when pinned.
    pub server_cpu: Option<usize>,
    /// The load generator's CPU (the fake's on the proxy route), when pinned.
    pub load_cpu: Option<usize>,
    /// How to start the proxy.
    pub launch: Launch,
    /// How to start the Go baseline, when it is measured too.
    pub baseline: Option<Launch>,
    /// USER_HZ.
    pub clk_tck: u64,
    /// Shorter windows.
    pub quick: bool,
    /// Window length override, seconds.
    pub seconds: Option<f64>,
    /// The image as base64.
    pub image: Arc<str>,
}

/// A base64 image of `len` characters (a PNG signature, then noise).
pub fn image_base64(len: usize) -> String {
    let raw_len = len / 4 * 3;
    let mut raw = Vec::with_capacity(raw_len);
    raw.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while raw.len() < raw_len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        raw.extend_from_slice(&x.to_le_bytes());
    }
    raw.truncate(raw_len);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The request a scenario sends on a route.
pub fn job(sc: &Scenario, route: Route, image: &str, model_count: usize) -> Job {
    let model = model_id(sc.pieces);
    let text: Arc<str> = answer(sc.pieces).into();
    let user = serde_json::json!({"role": "user", "content": "Say something."});
    let post = |path, body: serde_json::Value, expect| Job {
        method: Method::POST,
        path,
        body: Bytes::from(body.to_string()),
        bearer: route == Route::Direct,
        expect,
    };
    let stream = sc.kind != Kind::ChatWhole;
    match (route, sc.kind) {
        (_, Kind::Tags) => Job {
            method: Method::GET,
            path: if route == Route::Direct {
                "/api/models"
            } else {
                "/api/tags"
            },
            body: Bytes::new(),
            bearer: route == Route::Direct,
            expect: Expect::Listing(model_count),
        },
        (Route::Direct, kind) => {
            let msg = if kind == Kind::Image {
                let url = format!("data:image/png;base64,{image}");
                serde_json::json!({"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": url}}]})
            } else {
                user
            };
            let body = serde_json::json!({"model": model, "messages": [msg], "stream": stream});
            let expect = if stream {
                Expect::Sse(text)
            } else {
                Expect::OpenAiJson(text)
            };
            post("/api/chat/completions", body, expect)
        }
        (Route::Proxy | Route::Baseline, Kind::Generate) => {
            let body =
                serde_json::json!({"model": model, "prompt": "Say something.", "stream": true});
            post("/api/generate", body, Expect::Ndjson(Field::Generate, text))
        }
        (Route::Proxy | Route::Baseline, kind) => {
            let msg = if kind == Kind::Image {
                serde_json::json!({"role": "user", "content": "What is this?", "images": [image]})
            } else {
                user
            };
            let body = serde_json::json!({"model": model, "messages": [msg], "stream": stream});
            let expect = if stream {
                Expect::Ndjson(Field::Chat, text)
            } else {
                Expect::OllamaJson(Field::Chat, text)
            };
            post("/api/chat", body, expect)
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Scenario name.
    pub scenario: String,
    /// `direct` or `proxy`.
    pub route: String,
    /// Concurrent connections.
    pub concurrency: usize,
    /// Requests completed in the window.
    pub requests: u64,
    /// Failed or invalid responses.
    pub errors: u64,
    /// The first failure messages.
    pub error_samples: Vec<String>,
    /// Window length in seconds.
    pub seconds: f64,
    /// Requests per second.
    pub rps: f64,
    /// Time to first content, ms.
    pub ttft_p50: Option<f64>,
    /// Time to first content, ms.
    pub ttft_p99: Option<f64>,
    /// Total latency, ms.
    pub lat_p50: Option<f64>,
    /// Total latency, ms.
    pub lat_p99: Option<f64>,
    /// Proxy CPU time per request, ms.
    pub proxy_cpu_ms: Option<f64>,
    /// The share of the proxy's CPU time spent in the kernel.
    pub proxy_sys_share: Option<f64>,
    /// Fake upstream CPU time per request, ms: on the direct route, the zero-overhead server.
    pub server_cpu_ms: Option<f64>,
    /// Load generator CPU time per request, ms.
    pub bench_cpu_ms: f64,
    /// Proxy peak RSS (VmHWM) over its life, MB.
    pub peak_rss_mb: Option<f64>,
    /// Lowest and highest RSS sampled in the window, MB.
    pub rss_window_mb: Option<(f64, f64)>,
    /// RSS sampled first, half-way and last in the window, MB.
    pub rss_trend_mb: Option<(f64, f64, f64)>,
    /// New upstream TCP connections per request in the window.
    pub new_conns_per_req: f64,
    /// Upstream requests per request.
    pub upstream_reqs_per_req: f64,
    /// Busy share of each CPU in the window, by CPU number.
    pub cpu_busy: Vec<(usize, f64)>,
    /// Busy share of the machine not due to the proxy or the bench (other processes).
    pub other_busy: f64,
    /// Image scenario: peak RSS over the baseline, MB.
    pub image_cost_mb: Option<f64>,
    /// Image scenario: RSS one second after the last image, MB.
    pub rss_after_mb: Option<f64>,
    /// Largest request body the fake upstream received, bytes.
    pub upstream_max_body: u64,
    /// Runs made; the figures are the median run's.
    pub runs: usize,
    /// Lowest and highest CPU figure (proxy, or the server's on the direct route) over the runs.
    pub cpu_range_ms: Option<(f64, f64)>,
}

fn key(f: &Figures) -> f64 {
    f.proxy_cpu_ms.or(f.server_cpu_ms).unwrap_or(f.rps)
}

/// The run with the median CPU figure, noting how many runs there were and their spread.
pub fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let n = runs.len();
    let range = runs
        .first()
        .zip(runs.last())
        .map(|(lo, hi)| (key(lo), key(hi)));
    let mut f = runs
        .into_iter()
        .nth(n.saturating_sub(1) / 2)
        .unwrap_or_default();
    f.runs = n;
    f.cpu_range_ms = range.filter(|_| n > 1);
    f
}

#[derive(Debug, Clone)]
struct Snap {
    proxy: Option<(u64, u64)>,
    fake: Option<u64>,
    bench: u64,
    seen: crate::fake::Seen,
    machine: procfs::MachineTimes,
}

fn plan(env: &Env, sc: &Scenario) -> Plan {
    let (warmup, measure) = if env.quick { (0.25, 0.8) } else { (0.5, 3.0) };
    let measure = env.seconds.unwrap_or(measure).max(0.1);
    let max = if env.quick {
        sc.max_requests.1
    } else {
        sc.max_requests.0
    };
    Plan {
        concurrency: sc.concurrency,
        warmup: Duration::from_secs_f64(warmup),
        measure: Duration::from_secs_f64(measure),
        max_requests: max,
    }
}

/// Samples a process's RSS every 20 ms until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

/// (min, max) and (first, middle, last) of RSS samples, in MB.
type RssFigures = Option<((f64, f64), (f64, f64, f64))>;

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut kb = Vec::new();
            while !s.load(Ordering::Relaxed) {
                kb.extend(procfs::read_status_kb(pid, "VmRSS"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            kb
        });
        RssSampler { stop, task }
    }

    async fn finish(self) -> RssFigures {
        self.stop.store(true, Ordering::Relaxed);
        let kb = self.task.await.unwrap_or_default();
        let mb = |k: u64| k as f64 / 1024.0;
        let (lo, hi) = (kb.iter().min()?, kb.iter().max()?);
        let (first, mid, last) = (kb.first()?, kb.get(kb.len() / 2)?, kb.last()?);
        Some(((mb(*lo), mb(*hi)), (mb(*first), mb(*mid), mb(*last))))
    }
}

/// Runs one scenario on one route.
pub async fn run(env: &Env, sc: &Scenario, route: Route) -> Result<Figures> {
    // Direct: the fake takes the proxy's CPU, so both routes cross between CPUs.
    let fake_cpu = match route {
        Route::Direct => env.server_cpu,
        Route::Proxy | Route::Baseline => env.load_cpu,
    };
    if let Some(cpu) = fake_cpu {
        env.fake.pin(cpu);
    }
    let proxy = match (route, &env.baseline) {
        (Route::Proxy, _) => Some(Proxy::start(&env.launch, env.fake.addr)?),
        (Route::Baseline, Some(launch)) => Some(Proxy::start(launch, env.fake.addr)?),
        (Route::Baseline, None) => anyhow::bail!("no Go baseline to run"),
        (Route::Direct, _) => None,
    };
    let addr = proxy.as_ref().map_or(env.fake.addr, |p| p.addr);
    let pid = proxy.as_ref().map(|p| p.pid);
    let mut plan = plan(env, sc);
    let mut baseline_hwm = None;
    if sc.kind == Kind::Image {
        let small = Scenario {
            kind: Kind::ChatStream,
            ..sc.clone()
        };
        let warm = Arc::new(job(&small, route, "", env.fake.model_count));
        load::run(
            addr,
            warm,
            Plan {
                warmup: Duration::ZERO,
                ..plan
            },
            || (),
        )
        .await;
        baseline_hwm = pid.and_then(|p| procfs::read_status_kb(p, "VmHWM"));
        plan.warmup = Duration::ZERO;
    }
    let job = Arc::new(job(sc, route, &env.image, env.fake.model_count));
    let sampler = pid.map(RssSampler::start);
    let snap = || Snap {
        proxy: pid.and_then(procfs::cpu_times),
        fake: procfs::cpu_ticks(&env.fake.pid.to_string()),
        bench: procfs::cpu_ticks("self").unwrap_or(0),
        seen: env.fake.seen(),
        machine: procfs::machine(),
    };
    let out = load::run(addr, job, plan, snap).await;
    let rss = match sampler {
        Some(s) => s.finish().await,
        None => None,
    };
    let mut f = figures(env, sc, route, out);
    f.rss_window_mb = rss.map(|r| r.0);
    f.rss_trend_mb = rss.map(|r| r.1);
    if let Some(pid) = pid {
        let hwm = procfs::read_status_kb(pid, "VmHWM");
        f.peak_rss_mb = hwm.map(|kb| kb as f64 / 1024.0);
        if let (Some(base), Some(peak)) = (baseline_hwm, hwm) {
            f.image_cost_mb = Some(peak.saturating_sub(base) as f64 / 1024.0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            f.rss_after_mb = procfs::read_status_kb(pid, "VmRSS").map(|kb| kb as f64 / 1024.0);
        }
    }
    if f.errors > 0 {
        if let Some(p) = &proxy {
            f.error_samples
                .push(format!("proxy log tail:\n{}", p.log_tail()));
        }
    }
    drop(proxy);
    Ok(f)
}

fn p(s: &mut Samples, q: f64) -> Option<f64> {
    s.percentile(q).map(ms)
}

fn figures(env: &Env, sc: &Scenario, route: Route, mut out: load::Outcome<Snap>) -> Figures {
    let n = out.requests.max(1) as f64;
    let per_req = |ticks: u64| ticks as f64 * 1000.0 / env.clk_tck as f64 / n;
    let (a, b) = (&out.start, &out.end);
    let proxy_times = match (a.proxy, b.proxy) {
        (Some(x), Some(y)) => Some((y.0.saturating_sub(x.0), y.1.saturating_sub(x.1))),
        _ => None,
    };
    let proxy_ticks = proxy_times.map(|(u, s)| u + s);
    let bench_ticks = b.bench.saturating_sub(a.bench);
    let fake_ticks = match (a.fake, b.fake) {
        (Some(x), Some(y)) => Some(y.saturating_sub(x)),
        _ => None,
    };
    let machine_busy = b.machine.all.busy.saturating_sub(a.machine.all.busy);
    let machine_total = b
        .machine
        .all
        .total
        .saturating_sub(a.machine.all.total)
        .max(1);
    let ours = bench_ticks + proxy_ticks.unwrap_or(0) + fake_ticks.unwrap_or(0);
    let cpu_busy = b
        .machine
        .cpus
        .iter()
        .filter_map(|(i, end)| {
            let start = a.machine.cpus.iter().find(|(j, _)| j == i)?.1;
            Some((*i, procfs::busy_share(start, *end)))
        })
        .collect();
    let secs = out.elapsed.as_secs_f64();
    Figures {
        scenario: sc.name.to_owned(),
        route: format!("{route:?}").to_lowercase(),
        concurrency: sc.concurrency,
        requests: out.requests,
        errors: out.errors,
        error_samples: std::mem::take(&mut out.error_samples),
        seconds: secs,
        rps: out.requests as f64 / secs.max(1e-9),
        ttft_p50: p(&mut out.ttft, 50.0),
        ttft_p99: p(&mut out.ttft, 99.0),
        lat_p50: p(&mut out.latency, 50.0),
        lat_p99: p(&mut out.latency, 99.0),
        proxy_cpu_ms: proxy_ticks.map(per_req),
        proxy_sys_share: proxy_times
            .filter(|(u, s)| u + s > 0)
            .map(|(u, s)| s as f64 / (u + s) as f64),
        server_cpu_ms: fake_ticks.map(per_req),
        bench_cpu_ms: per_req(bench_ticks),
        new_conns_per_req: b.seen.connections.saturating_sub(a.seen.connections) as f64 / n,
        upstream_reqs_per_req: b.seen.requests.saturating_sub(a.seen.requests) as f64 / n,
        upstream_max_body: b.seen.max_body,
        cpu_busy,
        other_busy: machine_busy.saturating_sub(ours) as f64 / machine_total as f64,
        ..Figures::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_keeps_the_middle_run_and_the_spread() {
        let run = |cpu| Figures {
            proxy_cpu_ms: Some(cpu),
            ..Figures::default()
        };
        let f = median(vec![run(0.3), run(0.1), run(0.2)]);
        assert_eq!(
            (f.proxy_cpu_ms, f.runs, f.cpu_range_ms),
            (Some(0.2), 3, Some((0.1, 0.3)))
        );
        let f = median(vec![run(0.3), run(0.1)]);
        assert_eq!(f.proxy_cpu_ms, Some(0.1));
        let f = median(vec![run(0.5)]);
        assert_eq!((f.runs, f.cpu_range_ms), (1, None));
    }

    #[test]
    fn image_is_base64_of_the_asked_length_and_sniffs_as_png() {
        let img = image_base64(4096);
        assert_eq!(img.len(), 4096);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&img)
            .unwrap();
        assert!(raw.starts_with(b"\x89PNG"));
    }

    #[test]
    fn jobs_match_routes() {
        let sc = all().into_iter().find(|s| s.kind == Kind::Image).unwrap();
        let direct = job(&sc, Route::Direct, "QUJD", 3);
        assert_eq!(direct.path, "/api/chat/completions");
        assert!(direct.bearer);
        assert!(String::from_utf8_lossy(&direct.body).contains("data:image/png;base64,QUJD"));
        let proxied = job(&sc, Route::Proxy, "QUJD", 3);
        assert_eq!(proxied.path, "/api/chat");
        assert!(!proxied.bearer);
        let tags = Scenario {
            kind: Kind::Tags,
            ..sc.clone()
        };
        assert!(matches!(
            job(&tags, Route::Proxy, "", 3).expect,
            Expect::Listing(3)
        ));
        let whole = Scenario {
            kind: Kind::ChatWhole,
            ..sc
        };
        assert!(matches!(
            job(&whole, Route::Proxy, "", 3).expect,
            Expect::OllamaJson(..)
        ));
    }
}
