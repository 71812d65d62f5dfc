//! The report: a Markdown page with the run's conditions, every scenario through the proxy and
//! straight to the fake upstream (with ratios), the targets with pass/fail, the long-stream
//! and image details, and the tray app's idle cost when measured. Pure: figures in, text out.

use crate::scenario::{Figures, IMAGE_BYTES, LONG};
use crate::tray::TrayIdle;
use std::fmt::Write as _;

/// The conditions of a run.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// When (UTC).
    pub when: String,
    /// CPU model, cores, kernel.
    pub machine: String,
    /// Which CPU ran what.
    pub pinning: String,
    /// Proxy binary and version.
    pub proxy: String,
    /// The Go baseline's binary and version, when it was measured.
    pub baseline: Option<String>,
    /// `quick` or `full`.
    pub mode: String,
    /// How the fake sends SSE.
    pub pacing: String,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn pair(a: Option<f64>, b: Option<f64>, digits: usize) -> String {
    if a.is_none() && b.is_none() {
        return "–".into();
    }
    format!("{} / {}", opt(a, digits), opt(b, digits))
}

fn find<'a>(all: &'a [Figures], scenario: &str, route: &str) -> Option<&'a Figures> {
    all.iter()
        .find(|f| f.scenario == scenario && f.route == route)
}

fn busy(f: &Figures) -> String {
    let cores: Vec<String> = f
        .cpu_busy
        .iter()
        .map(|(i, s)| format!("{i}:{:.0}%", s * 100.0))
        .collect();
    format!("{} · other {:.0}%", cores.join(" "), f.other_busy * 100.0)
}

/// A target: what, the limit, the measured value, the older Go program's figure, and the Go
/// baseline's figure from this run.
struct Target {
    what: &'static str,
    limit: String,
    measured: String,
    go: &'static str,
    baseline: String,
    pass: Option<bool>,
}

/// The figures of one route, by target.
struct RouteFigures {
    cpu_c64: Option<f64>,
    cpu_c1: Option<f64>,
    cpu_whole: Option<f64>,
    cpu_tags: Option<f64>,
    added_ttft: Option<f64>,
    conns: Option<f64>,
    peak: Option<f64>,
}

impl RouteFigures {
    fn of(all: &[Figures], route: &str) -> Self {
        let cpu = |s| find(all, s, route).and_then(|f| f.proxy_cpu_ms);
        let ttft = |route| find(all, "chat-c1", route).and_then(|f| f.ttft_p50);
        RouteFigures {
            cpu_c64: cpu("chat-c64"),
            cpu_c1: cpu("chat-c1"),
            cpu_whole: cpu("chat-nostream-c64"),
            cpu_tags: cpu("tags-c64"),
            added_ttft: ttft(route).zip(ttft("direct")).map(|(p, d)| p - d),
            conns: find(all, "chat-c64", route).map(|f| f.new_conns_per_req),
            peak: ["chat-c64", "chat-nostream-c64", "tags-c64"]
                .iter()
                .filter_map(|s| find(all, s, route).and_then(|f| f.peak_rss_mb))
                .reduce(f64::max),
        }
    }
}

fn le(
    what: &'static str,
    (value, baseline): (Option<f64>, Option<f64>),
    limit: f64,
    unit: &str,
    go: &'static str,
) -> Target {
    let digits = if limit < 0.1 { 4 } else { 3 };
    let show =
        |v: Option<f64>, none: &str| v.map_or(none.into(), |v| format!("{v:.digits$} {unit}"));
    Target {
        what,
        limit: format!("≤ {limit} {unit}"),
        measured: show(value, "not measured"),
        go,
        baseline: show(baseline, "–"),
        pass: value.map(|v| v <= limit),
    }
}

fn targets(all: &[Figures], tray: Option<&TrayIdle>) -> Vec<Target> {
    let (p, b) = (
        RouteFigures::of(all, "proxy"),
        RouteFigures::of(all, "baseline"),
    );
    let image_mb = IMAGE_BYTES as f64 / (1024.0 * 1024.0);
    let image = find(all, "image-10MB-c1", "proxy").and_then(|f| f.image_cost_mb);
    let mut t = vec![
        le(
            "proxy CPU per streamed 64-piece chat, c64",
            (p.cpu_c64, b.cpu_c64),
            0.30,
            "ms",
            "0.74 ms",
        ),
        le(
            "proxy CPU per streamed 64-piece chat, c1",
            (p.cpu_c1, b.cpu_c1),
            0.25,
            "ms",
            "0.56 ms",
        ),
        le(
            "proxy CPU per non-streamed chat, c64",
            (p.cpu_whole, b.cpu_whole),
            0.06,
            "ms",
            "0.11 ms",
        ),
        le(
            "proxy CPU per cached /api/tags, c64",
            (p.cpu_tags, b.cpu_tags),
            0.01,
            "ms",
            "0.015 ms",
        ),
        le(
            "added time to first token, c1 (p50)",
            (p.added_ttft, b.added_ttft),
            0.10,
            "ms",
            "0.20 ms",
        ),
        le(
            "new upstream connections per request, c64",
            (p.conns, b.conns),
            0.02,
            "",
            "0.77",
        ),
        le(
            "proxy peak RSS at c64",
            (p.peak, b.peak),
            15.0,
            "MB",
            "21 MB",
        ),
        le(
            "10 MB image: peak RSS over baseline",
            (image, None),
            3.0 * image_mb,
            "MB",
            "–",
        ),
    ];
    t.push(long_target(all));
    if let Some(tray) = tray {
        t.push(le(
            "tray app idle, window closed: RSS of the tree",
            (tray.rss_mb, None),
            60.0,
            "MB",
            "–",
        ));
        t.push(le(
            "tray app idle: CPU per minute",
            (tray.cpu_s_per_min, None),
            0.1,
            "s",
            "–",
        ));
    }
    t
}

/// Linear time (CPU per piece no higher for 2,000 pieces than for 64) and flat memory (RSS at
/// the end of the long-stream window at most 0.5 MB above its value half-way: allocator warm-up
/// shows in the first half, a leak in both).
fn long_target(all: &[Figures]) -> Target {
    let short = find(all, "chat-c1", "proxy")
        .and_then(|f| f.proxy_cpu_ms)
        .map(|c| c / 64.0);
    let long = find(all, "long-2000-c1", "proxy");
    let per_piece = long.and_then(|f| f.proxy_cpu_ms).map(|c| c / LONG as f64);
    let late = long
        .and_then(|f| f.rss_trend_mb)
        .map(|(_, mid, last)| last - mid);
    let pass = match (short, per_piece, late) {
        (Some(s), Some(l), Some(g)) => Some(l <= s * 1.1 && g <= 0.5),
        _ => None,
    };
    let us = |v: Option<f64>| opt(v.map(|x| x * 1000.0), 2);
    Target {
        what: "long stream: CPU per piece (2,000 vs 64); RSS growth, 2nd half of the window",
        limit: "per piece ≤ 64-piece figure; growth ≤ 0.5 MB".into(),
        measured: format!("{} vs {} µs; {} MB", us(per_piece), us(short), opt(late, 2)),
        go: "–",
        baseline: "–".into(),
        pass,
    }
}

/// The whole report.
pub fn render(meta: &Meta, all: &[Figures], tray: Option<&TrayIdle>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Proxy benchmark report\n");
    let _ = writeln!(
        s,
        "- when: {}\n- machine: {}\n- pinning: {}",
        meta.when, meta.machine, meta.pinning
    );
    let _ = writeln!(s, "- proxy: {}", meta.proxy);
    if let Some(b) = &meta.baseline {
        let _ = writeln!(
            s,
            "- Go baseline: {b}, the older Go program's streamed chat path rebuilt from its \
             documented design (crates/bench/go-baseline), run on the chat scenarios"
        );
    }
    let _ = writeln!(
        s,
        "- mode: {}\n- fake upstream: {}\n",
        meta.mode, meta.pacing
    );
    s.push_str(&targets_table(all, tray));
    s.push_str(&scenario_table(all));
    s.push_str(&details(all));
    if let Some(t) = tray {
        s.push_str(&crate::tray::render(t));
    }
    let errors: Vec<&Figures> = all.iter().filter(|f| f.errors > 0).collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "\n## Errors\n");
        for f in errors {
            let _ = writeln!(s, "- {} ({}): {} errors", f.scenario, f.route, f.errors);
            for e in &f.error_samples {
                let _ = writeln!(s, "\n```\n{e}\n```");
            }
        }
    }
    s
}

fn targets_table(all: &[Figures], tray: Option<&TrayIdle>) -> String {
    let with_baseline = all.iter().any(|f| f.route == "baseline");
    let mut s = String::from("## Targets\n\n| target | limit | measured | Go program |");
    s.push_str(if with_baseline {
        " Go baseline, this run | |\n|---|---|---|---|---|---|\n"
    } else {
        " |\n|---|---|---|---|---|\n"
    });
    for t in targets(all, tray) {
        let verdict = match t.pass {
            Some(true) => "pass",
            Some(false) => "**miss**",
            None => "–",
        };
        let baseline = if with_baseline {
            format!(" {} |", t.baseline)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |{baseline} {} |",
            t.what, t.limit, t.measured, t.go, verdict
        );
    }
    s
}

fn cpu_cell(f: &Figures) -> String {
    let base = match (f.proxy_cpu_ms, f.proxy_sys_share) {
        (Some(c), Some(k)) => format!("{c:.4} ({:.0}%)", k * 100.0),
        (c, _) => opt(c, 4),
    };
    match f.cpu_range_ms.filter(|_| f.proxy_cpu_ms.is_some()) {
        Some((lo, hi)) => format!("{base} [{lo:.3}–{hi:.3}]"),
        None => base,
    }
}

fn scenario_table(all: &[Figures]) -> String {
    let mut s = String::from(
        "\n## Scenarios\n\nTimes in ms; CPU in ms per request from /proc/<pid>/stat (utime + \
         stime). server: the fake upstream (its own process; on the direct route it takes the \
         proxy's CPU and its figure is the zero-overhead server cost); proxy: with its kernel share, and \
         [min–max] over repeated runs; ×server: proxy CPU over the direct route's server CPU; load: the load generator. \
         ×direct: proxy req/s and p50 latency over the direct route's. Busy: each CPU's busy \
         share in the window; other: busy time not due to the proxy, the fake or the load.\n\n\
         | scenario | route | requests | req/s | TTFT p50 / p99 | latency p50 / p99 | ×direct (req/s · p50) | server CPU | proxy CPU | ×server | load CPU | peak RSS MB | new conns/req | errors | busy |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for f in all {
        let direct = find(all, &f.scenario, "direct").filter(|_| f.route != "direct");
        let ratio = direct.map_or("–".into(), |d| {
            let lat = f.lat_p50.zip(d.lat_p50).map(|(p, d)| p / d.max(1e-9));
            format!("{:.2} · {}", f.rps / d.rps.max(1e-9), opt(lat, 2))
        });
        let x_server = direct
            .and_then(|d| f.proxy_cpu_ms.zip(d.server_cpu_ms))
            .map(|(p, s)| p / s.max(1e-9));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {:.4} | {} | {:.3} | {} | {} |",
            f.scenario,
            f.route,
            f.requests,
            f.rps,
            pair(f.ttft_p50, f.ttft_p99, 3),
            pair(f.lat_p50, f.lat_p99, 3),
            ratio,
            opt(f.server_cpu_ms, 4),
            cpu_cell(f),
            opt(x_server, 2),
            f.bench_cpu_ms,
            opt(f.peak_rss_mb, 1),
            f.new_conns_per_req,
            f.errors,
            busy(f),
        );
    }
    s
}

fn details(all: &[Figures]) -> String {
    let mut s = String::from("\n## Details\n\n");
    if let Some(f) = find(all, "long-2000-c1", "proxy") {
        let per = f.proxy_cpu_ms.map(|c| c * 1000.0 / LONG as f64);
        let window = f
            .rss_window_mb
            .map_or("–".into(), |(lo, hi)| format!("{lo:.1}–{hi:.1} MB"));
        let trend = f.rss_trend_mb.map_or("–".into(), |(a, b, c)| {
            format!("{a:.1} → {b:.1} → {c:.1} MB")
        });
        let _ = writeln!(
            s,
            "- long stream ({LONG} pieces, c1): {} µs proxy CPU per piece, latency p50 {} ms \
             ({} µs per piece); RSS during the window {window} (first → half-way → last sample: {trend}).",
            opt(per, 2),
            opt(f.lat_p50, 2),
            opt(f.lat_p50.map(|l| l * 1000.0 / LONG as f64), 2),
        );
    }
    if let Some(f) = find(all, "image-10MB-c1", "proxy") {
        let _ = writeln!(
            s,
            "- image ({:.1} MB of base64 per request, c1): peak RSS {} MB, {} MB over the \
             baseline ({}× the image); RSS 1 s after: {} MB; largest body upstream received: \
             {:.1} MB.",
            IMAGE_BYTES as f64 / 1048576.0,
            opt(f.peak_rss_mb, 1),
            opt(f.image_cost_mb, 1),
            opt(
                f.image_cost_mb
                    .map(|c| c / (IMAGE_BYTES as f64 / 1048576.0)),
                2
            ),
            opt(f.rss_after_mb, 1),
            f.upstream_max_body as f64 / 1048576.0,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(scenario: &str, route: &str, cpu: Option<f64>, ttft: f64) -> Figures {
        Figures {
            scenario: scenario.into(),
            route: route.into(),
            requests: 100,
            rps: 1000.0,
            ttft_p50: Some(ttft),
            lat_p50: Some(1.0),
            proxy_cpu_ms: cpu,
            peak_rss_mb: cpu.map(|_| 12.0),
            ..Figures::default()
        }
    }

    #[test]
    fn targets_pass_and_miss() {
        let all = vec![
            fig("chat-c1", "direct", None, 0.50),
            fig("chat-c1", "proxy", Some(0.20), 0.55),
            fig("chat-c64", "proxy", Some(0.40), 1.0),
        ];
        let t = targets(&all, None);
        let by = |w: &str| t.iter().find(|t| t.what.contains(w)).unwrap().pass;
        assert_eq!(by("chat, c1"), Some(true));
        assert_eq!(by("chat, c64"), Some(false));
        assert_eq!(by("first token"), Some(true));
        assert_eq!(by("peak RSS at c64"), Some(true));
        assert_eq!(by("tags"), None);
        let page = render(&Meta::default(), &all, None);
        assert!(page.contains("**miss**"));
        assert!(page.contains("| chat-c1 | proxy | 100 | 1000 |"));
        assert!(!page.contains("Go baseline"));
    }

    #[test]
    fn the_go_baseline_gets_its_own_column_and_rows() {
        let all = vec![
            fig("chat-c1", "direct", None, 0.50),
            fig("chat-c1", "proxy", Some(0.20), 0.55),
            fig("chat-c1", "baseline", Some(0.61), 0.80),
        ];
        let meta = Meta {
            baseline: Some("go-baseline (/x/go-baseline)".into()),
            ..Meta::default()
        };
        let page = render(&meta, &all, None);
        assert!(page.contains("- Go baseline: go-baseline (/x/go-baseline)"));
        assert!(page.contains("| measured | Go program | Go baseline, this run | |"));
        assert!(page.contains("| ≤ 0.25 ms | 0.200 ms | 0.56 ms | 0.610 ms | pass |"));
        assert!(page.contains("| ≤ 0.1 ms | 0.050 ms | 0.20 ms | 0.300 ms | pass |"));
        // The baseline's row is read against the direct route too.
        assert!(page.contains("| chat-c1 | baseline | 100 | 1000 |"));
        assert!(page.contains("| 1.00 · 1.00 |"));
    }
}
