//! Simulated time: microseconds since the Unix epoch (UTC), AWX's timestamp format, and parsing of
//! filter values.

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Sentinel for "no timestamp" (serialized as `null`).
pub const NONE_TS: Micros = i64::MIN;

pub const SEC: Micros = 1_000_000;
pub const MIN: Micros = 60 * SEC;
pub const HOUR: Micros = 60 * MIN;
pub const DAY: Micros = 24 * HOUR;

/// Days since the epoch -> (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_num(out: &mut String, v: i64, width: usize) {
    let s = v.to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Appends `ts` the way AWX (Django REST framework) renders datetimes: ISO 8601, UTC, `Z`, with
/// microseconds unless they are zero (Python's `isoformat()` drops a zero fraction).
pub fn push_iso(out: &mut String, ts: Micros) {
    let secs = ts.div_euclid(SEC);
    let micros = ts.rem_euclid(SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    push_num(out, y, 4);
    out.push('-');
    push_num(out, m as i64, 2);
    out.push('-');
    push_num(out, d as i64, 2);
    out.push('T');
    push_num(out, sod / 3600, 2);
    out.push(':');
    push_num(out, (sod / 60) % 60, 2);
    out.push(':');
    push_num(out, sod % 60, 2);
    if micros != 0 {
        out.push('.');
        push_num(out, micros, 6);
    }
    out.push('Z');
}

pub fn iso(ts: Micros) -> String {
    let mut s = String::with_capacity(27);
    push_iso(&mut s, ts);
    s
}

/// Parses a datetime filter value: RFC 3339 / ISO 8601 with `Z` or an offset, with `T` or a space
/// as separator, optional seconds and fraction; a naive value or a bare date is taken as UTC
/// (AWX runs with `TIME_ZONE = 'UTC'`).
pub fn parse_datetime(s: &str) -> Option<Micros> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let norm = t.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&norm) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&norm, fmt) {
            return Some(dt.timestamp_micros());
        }
    }
    let naive = norm.trim_end_matches('Z');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt.and_utc().timestamp_micros());
    }
    None
}

/// Seconds as AWX's `elapsed` Decimal(12,3): rounded to milliseconds.
pub fn elapsed_secs(started: Micros, finished: Micros) -> f64 {
    let ms = (finished - started + 500) / 1000;
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_awx() {
        let ts = parse_datetime("2023-06-04T06:36:47.101667Z").expect("parse");
        assert_eq!(iso(ts), "2023-06-04T06:36:47.101667Z");
        let ts = parse_datetime("2023-06-04T08:36:47+02:00").expect("parse");
        assert_eq!(iso(ts), "2023-06-04T06:36:47Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_datetime("2024-02-29"),
            parse_datetime("2024-02-29T00:00:00Z")
        );
        assert_eq!(
            parse_datetime("2024-02-29 10:00:00"),
            parse_datetime("2024-02-29T10:00:00Z")
        );
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(elapsed_secs(0, 44_024_400), 44.024);
    }
}
