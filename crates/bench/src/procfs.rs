//! Readings from Linux's /proc: a process's CPU time (`stat`), peak and current RSS (`status`),
//! PSS (`smaps_rollup`), wakeups (context switches), the machine's per-core busy time
//! (`/proc/stat`), the CPUs this process may use, and process trees. Parsers are pure and
//! tested; readers are thin.

use std::path::Path;

/// CPU time of a process in clock ticks, (user, system), all threads, living and dead.
pub fn parse_pid_stat_times(stat: &str) -> Option<(u64, u64)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    // After the command: state(3) ppid(4) … utime(14) stime(15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// CPU time of a process in clock ticks (user + system).
pub fn parse_pid_stat_ticks(stat: &str) -> Option<u64> {
    parse_pid_stat_times(stat).map(|(u, s)| u + s)
}

/// The parent pid from a `/proc/<pid>/stat` line.
pub fn parse_pid_stat_ppid(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// CPU ticks of process `pid` (or "self").
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    parse_pid_stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU ticks of process `pid`, (user, system).
pub fn cpu_times(pid: u32) -> Option<(u64, u64)> {
    parse_pid_stat_times(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Clock ticks per second (USER_HZ), from `getconf`; 100 when that fails.
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// A `kB` value such as `VmHWM:   12345 kB` from a `status` file, in kB.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_ascii_whitespace().next()?.parse().ok()
    })
}

/// A field of `/proc/<pid>/status` in kB (e.g. `VmHWM`, `VmRSS`).
pub fn read_status_kb(pid: u32, key: &str) -> Option<u64> {
    status_kb(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        key,
    )
}

/// Busy and total ticks of one CPU line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuLine {
    /// Ticks not idle and not waiting for I/O.
    pub busy: u64,
    /// All ticks.
    pub total: u64,
    /// Ticks stolen by the hypervisor.
    pub steal: u64,
}

/// `/proc/stat`: the whole machine, then each CPU by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineTimes {
    /// The `cpu` line.
    pub all: CpuLine,
    /// The `cpuN` lines, by N.
    pub cpus: Vec<(usize, CpuLine)>,
}

fn parse_cpu_line(rest: &str) -> Option<CpuLine> {
    let v: Vec<u64> = rest
        .split_ascii_whitespace()
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some(CpuLine {
        busy: total - idle,
        total,
        steal: v.get(7).copied().unwrap_or(0),
    })
}

/// Parses `/proc/stat`.
pub fn parse_machine(stat: &str) -> MachineTimes {
    let mut m = MachineTimes::default();
    for line in stat.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        let (name, fields) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some(cpu) = parse_cpu_line(fields) else {
            continue;
        };
        if name.is_empty() {
            m.all = cpu;
        } else if let Ok(n) = name.parse() {
            m.cpus.push((n, cpu));
        }
    }
    m
}

/// Reads `/proc/stat` (empty when unreadable).
pub fn machine() -> MachineTimes {
    parse_machine(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

/// Busy share (0–1) between two readings of one CPU line.
pub fn busy_share(a: CpuLine, b: CpuLine) -> f64 {
    let total = b.total.saturating_sub(a.total);
    if total == 0 {
        return 0.0;
    }
    b.busy.saturating_sub(a.busy) as f64 / total as f64
}

/// A CPU list such as `0-1,3,5-6`.
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.trim().parse::<usize>().ok()),
        }
    }
    out
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(parse_cpu_list)
        .unwrap_or_default()
}

/// `pid` and all its descendants, found by scanning `/proc`.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            if let Some(ppid) = parse_pid_stat_ppid(&stat) {
                parents.push((pid, ppid));
            }
        }
    }
    descendants(root, &parents)
}

/// `root` and every pid whose parent chain reaches it, given (pid, ppid) pairs.
pub fn descendants(root: u32, pairs: &[(u32, u32)]) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(
            pairs
                .iter()
                .filter(|&&(c, pp)| pp == p && c != p)
                .map(|&(c, _)| c),
        );
        i += 1;
    }
    out
}

/// `Rss` and `Pss` of a process in kB, from `smaps_rollup`.
pub fn rss_pss_kb(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some((status_kb(&s, "Rss")?, status_kb(&s, "Pss")?))
}

/// The command name of a process.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Context switches (voluntary + involuntary) summed over a process's living threads: each one
/// is a wakeup or a preemption.
pub fn context_switches(pid: u32) -> u64 {
    let dir = format!("/proc/{pid}/task");
    let Ok(tasks) = std::fs::read_dir(Path::new(&dir)) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|s| {
            status_kb(&s, "voluntary_ctxt_switches").unwrap_or(0)
                + status_kb(&s, "nonvoluntary_ctxt_switches").unwrap_or(0)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1033 0 0 0 \
                        17 5 0 0 20 0 3 0 123456 1234567 890 18446744073709551615";

    #[test]
    fn pid_stat_ticks_and_ppid_survive_odd_names() {
        assert_eq!(parse_pid_stat_ticks(STAT), Some(22));
        assert_eq!(parse_pid_stat_times(STAT), Some((17, 5)));
        assert_eq!(parse_pid_stat_ppid(STAT), Some(1));
        assert_eq!(parse_pid_stat_ticks("garbage"), None);
        assert_eq!(parse_pid_stat_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tproxy\nVmHWM:\t   12345 kB\nVmRSS:\t    9000 kB\nThreads:\t3\n";
        assert_eq!(status_kb(s, "VmHWM"), Some(12345));
        assert_eq!(status_kb(s, "VmRSS"), Some(9000));
        assert_eq!(status_kb(s, "Threads"), Some(3));
        assert_eq!(status_kb(s, "VmPeak"), None);
        assert_eq!(
            status_kb(
                "Rss:                3 kB\nPss_Anon: 1 kB\nPss: 2 kB\n",
                "Pss"
            ),
            Some(2)
        );
    }

    #[test]
    fn machine_times_and_busy_share() {
        let a = parse_machine("cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0\nintr 1\n");
        assert_eq!(
            a.all,
            CpuLine {
                busy: 20,
                total: 100,
                steal: 0
            }
        );
        assert_eq!(a.cpus.len(), 2);
        let b = parse_machine("cpu  40 0 20 130 10 0 0 0 0 0\ncpu0 35 0 5 50 10 0 0 0 0 0\n");
        assert!((busy_share(a.all, b.all) - 0.4).abs() < 1e-9);
        assert!((busy_share(a.cpus[0].1, b.cpus[0].1) - 0.6).abs() < 1e-9);
        assert_eq!(busy_share(a.all, a.all), 0.0);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7"), vec![0, 2, 3, 4, 7]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("x,3"), vec![3]);
    }

    #[test]
    fn descendants_follow_the_parent_chain() {
        let pairs = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 10)];
        let mut d = descendants(10, &pairs);
        d.sort_unstable();
        assert_eq!(d, vec![10, 11, 12, 14]);
    }
}
