//! The five latency histograms kept per (phase, kind), and their serialized form: HdrHistogram
//! V2 + deflate, base64, so runs can be merged exactly later.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest trackable value: one hour in µs; values above are clamped (and would be visible
/// as max = 1 h).
const HIGHEST_US: u64 = 3_600_000_000;

/// Makes an empty µs histogram with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

/// Records a µs value, clamping into the trackable range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, HIGHEST_US));
}

/// The measurement histograms of DESIGN.md, all in µs.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// done − intended: what a user behind the load balancer sees.
    pub latency: Histogram<u64>,
    /// done − sent: the uncorrected view (excludes the generator's own lag).
    pub response_time: Histogram<u64>,
    /// sent − intended: must stay near zero.
    pub client_lag: Histogram<u64>,
    /// fpm start − sent: waiting for a free php-fpm worker.
    pub queue_wait: Histogram<u64>,
    /// The script's own duration: the APM view.
    pub service: Histogram<u64>,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            latency: new_histogram(),
            response_time: new_histogram(),
            client_lag: new_histogram(),
            queue_wait: new_histogram(),
            service: new_histogram(),
        }
    }
}

impl Histograms {
    /// Adds another set (exact: HdrHistogram merges are lossless).
    pub fn merge(&mut self, other: &Histograms) {
        for (a, b) in self.parts_mut().into_iter().zip(other.parts()) {
            a.add(b).expect("histograms share bounds");
        }
    }

    fn parts(&self) -> [&Histogram<u64>; 5] {
        [
            &self.latency,
            &self.response_time,
            &self.client_lag,
            &self.queue_wait,
            &self.service,
        ]
    }

    fn parts_mut(&mut self) -> [&mut Histogram<u64>; 5] {
        [
            &mut self.latency,
            &mut self.response_time,
            &mut self.client_lag,
            &mut self.queue_wait,
            &mut self.service,
        ]
    }

    /// The serialized form for `run.json`.
    pub fn serialize(&self) -> SerializedHistograms {
        SerializedHistograms {
            latency: encode(&self.latency),
            response_time: encode(&self.response_time),
            client_lag: encode(&self.client_lag),
            queue_wait: encode(&self.queue_wait),
            service: encode(&self.service),
        }
    }
}

/// Histograms as stored in `run.json`: each is HdrHistogram's V2 deflate format, base64
/// (standard alphabet). Any HdrHistogram implementation can read them and merge them exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SerializedHistograms {
    /// done − intended, µs.
    pub latency: String,
    /// done − sent, µs.
    pub response_time: String,
    /// sent − intended, µs.
    pub client_lag: String,
    /// php-fpm start − sent, µs.
    pub queue_wait: String,
    /// The script's own duration, µs.
    pub service: String,
}

impl SerializedHistograms {
    /// Reads the histograms back.
    pub fn decode(&self) -> anyhow::Result<Histograms> {
        Ok(Histograms {
            latency: decode(&self.latency)?,
            response_time: decode(&self.response_time)?,
            client_lag: decode(&self.client_lag)?,
            queue_wait: decode(&self.queue_wait)?,
            service: decode(&self.service)?,
        })
    }
}

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes one base64 V2 (deflate) histogram.
pub fn decode(text: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("not an HdrHistogram V2 payload: {e:?}"))?;
    Ok(h)
}

/// Percentiles of one histogram, µs; all zero when it is empty (see `count`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Percentiles {
    /// Number of values recorded.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest value, µs.
    pub max_us: u64,
    /// Smallest value, µs.
    pub min_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            min_us: h.min(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_merge() {
        let mut a = Histograms::default();
        let mut b = Histograms::default();
        for v in 1..=1000 {
            record(&mut a.latency, v * 1000);
            record(&mut b.latency, v * 2000);
        }
        let back = a.serialize().decode().unwrap();
        assert_eq!(back.latency, a.latency);
        a.merge(&b);
        assert_eq!(a.latency.len(), 2000);
        let p = Percentiles::of(&a.latency);
        assert_eq!(p.count, 2000);
        assert!((p.max_us as f64 - 2_000_000.0).abs() / 2e6 < 0.001);
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }
}

#[cfg(test)]
mod ceiling {
    use super::*;

    /// What keeps run.json's size bounded however long a run goes: a histogram's serialized
    /// form grows with the buckets it has filled, and there is a fixed number of them (1 µs to
    /// 1 h at 3 significant digits). Every bucket filled, with counts that do not compress,
    /// is the ceiling.
    #[test]
    fn a_histogram_with_every_bucket_filled_serializes_within_a_fixed_ceiling() {
        let mut full = Histograms::default();
        let mut v = 1u64;
        let mut buckets = 0;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        while v <= HIGHEST_US {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for h in full.parts_mut() {
                h.record_n(v, 1 + x % 100_000).unwrap();
            }
            buckets += 1;
            v = full.latency.next_non_equivalent(v);
        }
        let started = std::time::Instant::now();
        let s = full.serialize();
        let took = started.elapsed();
        let bytes = s.latency.len();
        eprintln!(
            "{buckets} buckets filled: {bytes} B of base64 per histogram, {} B for the five, serialized in {took:?}",
            5 * bytes
        );
        assert!(buckets > 20_000, "{buckets}");
        assert!(bytes < 100_000, "{bytes}");
        assert_eq!(s.decode().unwrap().latency, full.latency);
    }
}
