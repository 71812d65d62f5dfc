//! Latency samples and their percentiles. Pure: no clocks, no I/O.

/// Durations of one kind (total latency or time to first token), in nanoseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    ns: Vec<u64>,
    sorted: bool,
}

impl Samples {
    /// An empty set with room for `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Samples {
            ns: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Adds one sample.
    pub fn push(&mut self, ns: u64) {
        self.sorted = self.sorted && self.ns.last().is_none_or(|&last| last <= ns);
        self.ns.push(ns);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.ns.extend_from_slice(&other.ns);
        self.sorted = false;
    }

    /// The nearest-rank percentile `p` (0–100) in nanoseconds; `None` when empty.
    pub fn percentile(&mut self, p: f64) -> Option<u64> {
        if self.ns.is_empty() {
            return None;
        }
        if !self.sorted {
            self.ns.sort_unstable();
            self.sorted = true;
        }
        Some(self.ns[nearest_rank(self.ns.len(), p)])
    }
}

/// Index (0-based) of the nearest-rank percentile `p` among `n` sorted values (`n > 0`).
pub fn nearest_rank(n: usize, p: f64) -> usize {
    let p = p.clamp(0.0, 100.0);
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    rank.clamp(1, n) - 1
}

/// Nanoseconds as milliseconds.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_table() {
        let cases = [
            (1, 50.0, 0),
            (1, 99.0, 0),
            (10, 0.0, 0),
            (10, 50.0, 4),
            (10, 90.0, 8),
            (10, 99.0, 9),
            (10, 100.0, 9),
            (100, 99.0, 98),
            (100, 99.5, 99),
            (1000, 50.0, 499),
            (3, 150.0, 2),
            (3, -5.0, 0),
        ];
        for (n, p, want) in cases {
            assert_eq!(nearest_rank(n, p), want, "n={n} p={p}");
        }
    }

    #[test]
    fn percentiles_of_unsorted_samples() {
        let mut s = Samples::with_capacity(8);
        for x in [50, 10, 40, 20, 30, 100, 90, 80, 70, 60] {
            s.push(x);
        }
        assert_eq!(s.percentile(50.0), Some(50));
        assert_eq!(s.percentile(99.0), Some(100));
        assert_eq!(s.percentile(10.0), Some(10));
    }

    #[test]
    fn empty_samples_have_no_percentile() {
        let mut s = Samples::default();
        assert_eq!(s.percentile(50.0), None);
    }

    #[test]
    fn extend_merges_and_resorts() {
        let mut a = Samples::default();
        a.push(1);
        a.push(5);
        let mut b = Samples::default();
        b.push(3);
        a.extend(&b);
        assert_eq!(a.percentile(50.0), Some(3));
        assert_eq!(a.percentile(100.0), Some(5));
        assert!((ms(1_500_000) - 1.5).abs() < 1e-12);
    }
}
