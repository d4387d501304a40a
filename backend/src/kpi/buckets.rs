//! Time buckets for the series KPIs: Grafana's interval, widened if needed so that
//! there are never more than `maxDataPoints` buckets, aligned to multiples of itself.

use crate::jobs::Micros;
use crate::query::Query;

use super::KpiError;

/// Even with a huge maxDataPoints, a series is capped (a year at one minute is 525,600).
pub const MAX_BUCKETS: i64 = 11_000;
const MIN_INTERVAL_MS: i64 = 1_000;
/// Frame times are i64 nanoseconds (1677-09-21 to 2262-04-11): every bucket start must
/// fit, and no width may be wider than that whole span.
const MAX_NS_MS: i64 = i64::MAX / 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Start of the first bucket (aligned, may be before the range start).
    pub first: Micros,
    pub width: Micros,
    pub count: usize,
    /// The query range, [from, to).
    pub from: Micros,
    pub to: Micros,
}

impl Buckets {
    pub fn for_query(q: &Query) -> Result<Self, KpiError> {
        let from_ms = q.range.from.timestamp_millis();
        let to_ms = q.range.to.timestamp_millis();
        let out_of_bounds = || KpiError::RangeOutOfBounds {
            from: q.range.from.to_rfc3339(),
            to: q.range.to.to_rfc3339(),
        };
        if from_ms < -MAX_NS_MS || to_ms > MAX_NS_MS {
            return Err(out_of_bounds());
        }
        let span = (to_ms - from_ms).max(1);
        let max_points = if q.max_data_points > 0 {
            q.max_data_points.min(MAX_BUCKETS)
        } else {
            MAX_BUCKETS
        };
        let mut width = q.interval_ms.clamp(MIN_INTERVAL_MS, MAX_NS_MS);
        let count = |w: i64| (to_ms - 1).div_euclid(w) - from_ms.div_euclid(w) + 1;
        if count(width) > max_points {
            // Alignment adds at most one bucket; leave room for it.
            let slots = (max_points - 1).max(1);
            width = width.max((span + slots - 1) / slots);
            while count(width) > max_points {
                width += (width + 9) / 10;
            }
        }
        let n = count(width);
        if n > MAX_BUCKETS {
            return Err(KpiError::TooManyBuckets {
                buckets: n,
                max: MAX_BUCKETS,
            });
        }
        let first_ms = from_ms.div_euclid(width) * width;
        let last_ms = i128::from(first_ms) + i128::from(width) * i128::from(n - 1);
        if first_ms < -MAX_NS_MS || last_ms > i128::from(MAX_NS_MS) {
            return Err(out_of_bounds());
        }
        Ok(Buckets {
            first: first_ms * 1000,
            width: width * 1000,
            count: n as usize,
            from: from_ms * 1000,
            to: to_ms * 1000,
        })
    }

    /// The bucket of a time inside the range.
    pub fn index(&self, t: Micros) -> Option<usize> {
        if t < self.from || t >= self.to {
            return None;
        }
        Some(((t - self.first) / self.width) as usize).filter(|i| *i < self.count)
    }

    pub fn starts(&self) -> impl Iterator<Item = Micros> + '_ {
        (0..self.count).map(|i| self.first + i as i64 * self.width)
    }

    /// Bucket start times in nanoseconds, for the frame's time field.
    pub fn time_values(&self) -> crate::frame::Values {
        crate::frame::Values::Time(self.starts().map(|t| Some(t * 1000)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Query, QueryEnvelope, TimeRange};
    use crate::settings::Source;

    fn q(from_ms: i64, to_ms: i64, interval_ms: i64, mdp: i64) -> Query {
        Query::parse(
            &QueryEnvelope {
                ref_id: "A",
                query_type: "job_throughput",
                json: b"{}",
                range: TimeRange::from_millis(from_ms, to_ms).unwrap(),
                interval_ms,
                max_data_points: mdp,
            },
            Source::Api,
        )
        .unwrap()
    }

    #[test]
    fn buckets_align_to_the_interval_and_cover_the_range() {
        let b = Buckets::for_query(&q(90_000, 300_000, 60_000, 1000)).unwrap();
        assert_eq!(b.first, 60_000_000);
        assert_eq!(b.width, 60_000_000);
        assert_eq!(b.count, 4); // buckets at 60, 120, 180 and 240 s
        assert_eq!(b.index(89_999_999), None);
        assert_eq!(b.index(90_000_000), Some(0));
        assert_eq!(b.index(299_999_999), Some(3));
        assert_eq!(b.index(300_000_000), None);
    }

    #[test]
    fn huge_intervals_and_ranges_beyond_nanoseconds_are_errors_not_overflows() {
        // Found by tests/properties.rs: intervalMs near i64::MAX / 1000 overflowed.
        let b = Buckets::for_query(&q(0, 1, 9_223_372_036_854_776, 0)).unwrap();
        assert_eq!((b.first, b.count), (0, 1));
        let b = Buckets::for_query(&q(-1, 1, i64::MAX, 0)).unwrap();
        assert!(b.first.checked_mul(1000).is_some() && b.count == 2, "{b:?}");
        // The year 3000 has no nanosecond timestamp.
        let e = Buckets::for_query(&q(0, 32_503_680_000_000, 60_000, 1000)).unwrap_err();
        assert!(matches!(e, KpiError::RangeOutOfBounds { .. }), "{e}");
        assert!(e.to_string().contains("2262"), "{e}");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn never_more_buckets_than_max_data_points() {
        for (span, interval, mdp) in [
            (86_400_000, 1_000, 100),
            (30 * 86_400_000, 60_000, 500),
            (3_600_000, 1, 7),
        ] {
            let b = Buckets::for_query(&q(1_234_567, 1_234_567 + span, interval, mdp)).unwrap();
            assert!(
                b.count as i64 <= mdp,
                "{span} {interval} {mdp}: {}",
                b.count
            );
            assert_eq!(b.first % b.width, 0);
            assert!(b.first + b.width * b.count as i64 >= b.to);
        }
    }
}
