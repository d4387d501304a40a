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

/// Why a datetime filter value was refused: the three messages of Django's `DateTimeField`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// matches no accepted shape
    Format,
    /// `YYYY-MM-DD` shape, impossible date
    Date,
    /// datetime shape, impossible date or time
    DateTime,
}

impl DtError {
    /// Django's message for `value` (AWX answers it as a one-item JSON list).
    pub fn message(self, value: &str) -> String {
        match self {
            DtError::Format => format!("\u{201c}{value}\u{201d} value has an invalid format. It must be in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format."),
            DtError::Date => format!("\u{201c}{value}\u{201d} value has the correct format (YYYY-MM-DD) but it is an invalid date."),
            DtError::DateTime => format!("\u{201c}{value}\u{201d} value has the correct format (YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time."),
        }
    }
}

fn datetime_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        // django.utils.dateparse.datetime_re: `\s*` before the zone is why an unencoded `+00:00`
        // (the `+` arrives as a space) is refused: the zone then starts with a digit
        regex::Regex::new(
            r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
        )
        .expect("static regex")
    })
}

fn date_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})$").expect("static regex"))
}

/// Parses a datetime filter value as Django's `DateTimeField.to_python` does for AWX: a datetime
/// with `T` or a space, optional seconds and fraction, an optional `Z` or `+HH[:MM]` zone, or a
/// bare date (midnight); naive values are UTC (AWX runs with `TIME_ZONE = 'UTC'`).
pub fn parse_filter_datetime(s: &str) -> Result<Micros, DtError> {
    use chrono::{NaiveDate, NaiveTime};
    let num = |c: Option<regex::Match>| c.and_then(|m| m.as_str().parse::<u32>().ok());
    if let Some(c) = datetime_re().captures(s) {
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (
            num(c.get(1)),
            num(c.get(2)),
            num(c.get(3)),
            num(c.get(4)),
            num(c.get(5)),
        ) else {
            return Err(DtError::DateTime);
        };
        let sec = num(c.get(6)).unwrap_or(0);
        let micro = c
            .get(7)
            .map(|m| format!("{:0<6}", m.as_str()))
            .and_then(|f| f.parse::<u32>().ok())
            .unwrap_or(0);
        let date = NaiveDate::from_ymd_opt(y as i32, mo, d).ok_or(DtError::DateTime)?;
        let time = NaiveTime::from_hms_micro_opt(h, mi, sec, micro).ok_or(DtError::DateTime)?;
        let offset_secs = match c.get(8).map(|m| m.as_str()) {
            None | Some("Z") => 0,
            Some(z) => {
                let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
                let hh: i64 = digits.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0);
                let mm: i64 = digits.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
                let off = hh * 3600 + mm * 60;
                if z.starts_with('-') {
                    -off
                } else {
                    off
                }
            }
        };
        return Ok(date.and_time(time).and_utc().timestamp_micros() - offset_secs * SEC);
    }
    if let Some(c) = date_re().captures(s) {
        let (Some(y), Some(mo), Some(d)) = (num(c.get(1)), num(c.get(2)), num(c.get(3))) else {
            return Err(DtError::Date);
        };
        return NaiveDate::from_ymd_opt(y as i32, mo, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc().timestamp_micros())
            .ok_or(DtError::Date);
    }
    Err(DtError::Format)
}

/// [`parse_filter_datetime`] without the reason.
pub fn parse_datetime(s: &str) -> Option<Micros> {
    parse_filter_datetime(s).ok()
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
        // what AWX 24.6.1 answered (section 8's probes)
        assert_eq!(
            parse_filter_datetime("2024-13-45"),
            Err(DtError::Date),
            "correct format, impossible date"
        );
        assert_eq!(
            parse_filter_datetime("2024-02-30T10:00:00Z"),
            Err(DtError::DateTime)
        );
        assert_eq!(
            parse_filter_datetime("2026-11-28T23:52:28 00:00"),
            Err(DtError::Format),
            "an unencoded + arrives as a space"
        );
        assert_eq!(parse_filter_datetime("notadate"), Err(DtError::Format));
        assert_eq!(
            parse_filter_datetime("2026-11-28T23:52:28.055254Z"),
            parse_filter_datetime("2026-11-29T00:52:28.055254+01:00")
        );
        assert_eq!(
            parse_filter_datetime("2024-1-5 3:04"),
            parse_filter_datetime("2024-01-05T03:04:00Z")
        );
        assert_eq!(
            parse_filter_datetime("2024-01-05T03:04:00.5Z").map(|t| t % SEC),
            Ok(500_000)
        );
        assert_eq!(elapsed_secs(0, 44_024_400), 44.024);
    }
}
