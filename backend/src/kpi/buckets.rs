//! Time buckets for the series KPIs: Grafana's interval, widened if needed so that
//! there are never more than `maxDataPoints` buckets, aligned to multiples of itself.
//! Beyond [`MAX_BUCKETS`] the buckets are widened further, and the answer says so.

use crate::jobs::Micros;
use crate::query::Query;

use super::KpiError;

/// The most buckets a series has, whatever `maxDataPoints` asks: room for Grafana
/// alerting's defaults (1 s interval, 43,200 points: 12 hours at full resolution), while a
/// year at one minute (525,600) is widened, with a notice.
pub const MAX_BUCKETS: i64 = 50_000;
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
    /// The width `maxDataPoints` asked for, in ms, when [`MAX_BUCKETS`] made it wider.
    pub widened_from_ms: Option<i64>,
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
        let count = |w: i64| (to_ms - 1).div_euclid(w) - from_ms.div_euclid(w) + 1;
        let within = |width: i64, max_points: i64| {
            if count(width) <= max_points {
                return width;
            }
            // Alignment adds at most one bucket; leave room for it.
            let span = (to_ms - from_ms).max(1);
            let slots = (max_points - 1).max(1);
            let mut width = width.max((span + slots - 1) / slots);
            while count(width) > max_points {
                width += (width + 9) / 10;
            }
            width
        };
        let asked = q.interval_ms.clamp(MIN_INTERVAL_MS, MAX_NS_MS);
        let asked = if q.max_data_points > 0 {
            within(asked, q.max_data_points)
        } else {
            asked
        };
        let width = within(asked, MAX_BUCKETS);
        let widened_from_ms = (width != asked).then_some(asked);
        let n = count(width);
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
            widened_from_ms,
        })
    }

    /// The frame, with the notice of buckets wider than asked if they are.
    pub fn annotate(&self, frame: crate::frame::Frame) -> crate::frame::Frame {
        match self.notice() {
            Some(text) => frame.with_notice(crate::frame::Severity::Info, text),
            None => frame,
        }
    }

    /// What a panel or alert rule must know when the buckets are wider than it asked.
    pub fn notice(&self) -> Option<String> {
        let asked = self.widened_from_ms?;
        Some(format!(
            "Buckets are {} wide rather than the {} asked for: a series has at most {MAX_BUCKETS} buckets. Shorten the time range or raise the interval (Min interval in the query options) to choose the width yourself.",
            human_ms(self.width / 1000),
            human_ms(asked),
        ))
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

/// A width in ms as a person reads it: `90s`, `5m`, `2h30m`, `1d`.
fn human_ms(ms: i64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
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
                from_alert: false,
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
    fn grafana_alertings_defaults_are_answered_at_full_resolution() {
        // intervalMs 1000 and maxDataPoints 43200: twelve hours of one-second buckets.
        let b = Buckets::for_query(&q(0, 12 * 3_600_000, 1_000, 43_200)).unwrap();
        assert_eq!((b.width, b.count, b.notice()), (1_000_000, 43_200, None));
        // A day: maxDataPoints asks for wider buckets, which is Grafana's own rule: no notice.
        let b = Buckets::for_query(&q(0, 86_400_000, 1_000, 43_200)).unwrap();
        assert!(b.count <= 43_200 && b.count > 43_000, "{}", b.count);
        assert_eq!(b.notice(), None);
    }

    #[test]
    fn widening_beyond_max_data_points_says_so() {
        // A year at one minute, and maxDataPoints that would allow it.
        let b = Buckets::for_query(&q(0, 365 * 86_400_000, 60_000, 1_000_000)).unwrap();
        assert!(b.count as i64 <= MAX_BUCKETS, "{}", b.count);
        let notice = b.notice().expect("a notice");
        assert!(notice.contains("rather than the 1m asked for"), "{notice}");
        assert!(notice.contains("at most 50000 buckets"), "{notice}");
        assert_eq!(human_ms(9_000_000), "2h30m");
        assert_eq!(human_ms(86_400_000), "1d");
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
