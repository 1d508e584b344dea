//! Latency samples and the percentiles the report prints. Runs record at most a few
//! hundred thousand samples, so a sorted `Vec` is exact and cheap enough; no histogram.

use std::time::Duration;

/// Round-trip samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u32>,
}

/// p50, p99 and max of a set of samples, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: u32,
    pub p99: u32,
    pub max: u32,
    pub count: usize,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.micros.push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Nearest-rank percentiles; all zero when there are no samples.
    pub fn percentiles(mut self) -> Percentiles {
        if self.micros.is_empty() {
            return Percentiles::default();
        }
        self.micros.sort_unstable();
        let rank = |q: f64| {
            let i = (q * self.micros.len() as f64).ceil() as usize;
            self.micros[i.clamp(1, self.micros.len()) - 1]
        };
        Percentiles { p50: rank(0.50), p99: rank(0.99), max: rank(1.0), count: self.micros.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Samples::default();
        for us in 1..=100 {
            s.push(Duration::from_micros(us));
        }
        let p = s.percentiles();
        assert_eq!((p.p50, p.p99, p.max, p.count), (50, 99, 100, 100));
    }
}
