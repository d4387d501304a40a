//! Times and intervals as Grafana's time picker writes them: `now`, `now-7d`,
//! `now-24h`, `now-30m` (chains such as `now-1d-12h` too), RFC 3339, a bare date, or
//! epoch milliseconds; intervals such as `30s`, `5m`, `1h`, `1d`.

use chrono::{DateTime, Duration, Months, NaiveDate, SecondsFormat, TimeZone, Utc};

const UNITS: &str = "ms, s, m, h, d, w, M (months) or y";

/// A point in time relative to `now`, or absolute.
pub fn parse_time(spec: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = spec.trim();
    if s.is_empty() {
        return Err("empty time: use now, now-7d, now-24h, now-30m or an RFC 3339 time".into());
    }
    if let Some(rest) = s.strip_prefix("now") {
        return apply_offsets(rest, now).map_err(|why| format!("`{spec}`: {why}"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists")));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(t) = s
            .parse::<i64>()
            .ok()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        {
            return Ok(t);
        }
    }
    Err(format!(
        "`{spec}` is not a time: use now, now-7d, now-24h, now-30m, an RFC 3339 time such as 2024-10-01T12:00:00Z, a date such as 2024-10-01, or epoch milliseconds"
    ))
}

/// `-7d`, `+1h`, `-1d-12h`, or nothing.
fn apply_offsets(mut rest: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let mut t = now;
    while !rest.is_empty() {
        let sign = match rest.as_bytes()[0] {
            b'-' => -1,
            b'+' => 1,
            _ => return Err("after `now` write an offset such as -7d or +1h".into()),
        };
        rest = &rest[1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err("the offset needs a number, e.g. now-7d".into());
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| "the offset is too large".to_string())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        t = match unit {
            "M" | "y" => {
                let months = if unit == "y" { n * 12 } else { n };
                let months = Months::new(u32::try_from(months).map_err(|_| "too large")?);
                if sign < 0 {
                    t.checked_sub_months(months)
                } else {
                    t.checked_add_months(months)
                }
                .ok_or("the time is out of range")?
            }
            _ => {
                let ms = unit_ms(unit)
                    .ok_or_else(|| format!("unknown unit `{unit}`; use one of {UNITS}"))?;
                let d = n
                    .checked_mul(ms)
                    .and_then(Duration::try_milliseconds)
                    .ok_or("the offset is too large")?;
                if sign < 0 {
                    t.checked_sub_signed(d)
                } else {
                    t.checked_add_signed(d)
                }
                .ok_or("the time is out of range")?
            }
        };
    }
    Ok(t)
}

fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    })
}

/// An interval such as `30s`, `5m`, `1h`, `1d`, `1w`, `500ms`, in milliseconds.
pub fn parse_interval(spec: &str) -> Result<i64, String> {
    let s = spec.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let bad = || {
        format!("`{spec}` is not an interval: write a number and a unit, e.g. 30s, 5m, 1h or 1d")
    };
    if digits == 0 {
        return Err(bad());
    }
    let n: i64 = s[..digits].parse().map_err(|_| bad())?;
    let ms = unit_ms(&s[digits..]).ok_or_else(bad)?;
    match n.checked_mul(ms) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(bad()),
    }
}

/// Grafana's rounding of `range / maxDataPoints` to a "nice" interval (its
/// `rangeutil.roundInterval`): the auto interval a panel sends when none is set.
pub fn round_interval(ms: i64) -> i64 {
    // (below this many ms, use this interval)
    const STEPS: &[(i64, i64)] = &[
        (10, 1),
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1_500, 1_000),
        (3_500, 2_000),
        (7_500, 5_000),
        (12_500, 10_000),
        (17_500, 15_000),
        (25_000, 20_000),
        (45_000, 30_000),
        (90_000, 60_000),
        (210_000, 120_000),
        (450_000, 300_000),
        (750_000, 600_000),
        (1_050_000, 900_000),
        (1_500_000, 1_200_000),
        (2_700_000, 1_800_000),
        (5_400_000, 3_600_000),
        (9_000_000, 7_200_000),
        (16_200_000, 10_800_000),
        (32_400_000, 21_600_000),
        (86_400_000, 43_200_000),
        (604_800_000, 86_400_000),
        (1_814_400_000, 604_800_000),
        (3_628_800_000, 2_592_000_000),
    ];
    STEPS
        .iter()
        .find(|(below, _)| ms < *below)
        .map_or(31_536_000_000, |(_, v)| *v)
}

/// A time as the CLI prints it: RFC 3339 in UTC, with fractions only when present.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Nanoseconds since the epoch (a frame's time value) as RFC 3339.
pub fn format_nanos(ns: i64) -> String {
    format_time(Utc.timestamp_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-10-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn t(spec: &str) -> String {
        format_time(parse_time(spec, now()).unwrap())
    }

    #[test]
    fn relative_times_count_back_from_now() {
        assert_eq!(t("now"), "2024-10-01T12:00:00Z");
        assert_eq!(t("now-7d"), "2024-09-24T12:00:00Z");
        assert_eq!(t("now-24h"), "2024-09-30T12:00:00Z");
        assert_eq!(t("now-30m"), "2024-10-01T11:30:00Z");
        assert_eq!(t("now-90s"), "2024-10-01T11:58:30Z");
        assert_eq!(t("now-1w"), "2024-09-24T12:00:00Z");
        assert_eq!(t("now+1h"), "2024-10-01T13:00:00Z");
        assert_eq!(t("now-1d-12h"), "2024-09-30T00:00:00Z");
        assert_eq!(t("now-1M"), "2024-09-01T12:00:00Z");
        assert_eq!(t("now-1y"), "2023-10-01T12:00:00Z");
    }

    #[test]
    fn absolute_times_are_accepted() {
        assert_eq!(t("2024-09-30T08:15:00Z"), "2024-09-30T08:15:00Z");
        assert_eq!(t("2024-09-30T10:15:00+02:00"), "2024-09-30T08:15:00Z");
        assert_eq!(t("2024-09-30T08:15:00.250Z"), "2024-09-30T08:15:00.250Z");
        assert_eq!(t("2024-09-30"), "2024-09-30T00:00:00Z");
        assert_eq!(t("1727740800000"), "2024-10-01T00:00:00Z");
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        let e = parse_time("now-7x", now()).unwrap_err();
        assert_eq!(
            e,
            "`now-7x`: unknown unit `x`; use one of ms, s, m, h, d, w, M (months) or y"
        );
        let e = parse_time("now-d", now()).unwrap_err();
        assert_eq!(e, "`now-d`: the offset needs a number, e.g. now-7d");
        let e = parse_time("now/d", now()).unwrap_err();
        assert_eq!(e, "`now/d`: after `now` write an offset such as -7d or +1h");
        let e = parse_time("yesterday", now()).unwrap_err();
        assert!(
            e.starts_with("`yesterday` is not a time: use now, now-7d"),
            "{e}"
        );
        assert!(parse_time("", now()).unwrap_err().contains("empty"));
    }

    #[test]
    fn intervals_parse_to_milliseconds() {
        assert_eq!(parse_interval("30s"), Ok(30_000));
        assert_eq!(parse_interval("5m"), Ok(300_000));
        assert_eq!(parse_interval("1h"), Ok(3_600_000));
        assert_eq!(parse_interval("1d"), Ok(86_400_000));
        assert_eq!(parse_interval("500ms"), Ok(500));
        for bad in ["", "h", "1", "1x", "0s", "-1h"] {
            let e = parse_interval(bad).unwrap_err();
            assert!(e.contains("is not an interval"), "{bad}: {e}");
        }
    }

    #[test]
    fn auto_intervals_round_like_grafana() {
        // 7 days over 100 points = 6048 s: Grafana's panels ask for 2h.
        assert_eq!(round_interval(604_800_000 / 100), 7_200_000);
        // 7 days over 1000 points = 604.8 s: 10m.
        assert_eq!(round_interval(604_800), 600_000);
        assert_eq!(round_interval(86_400_000 / 100), 900_000);
        assert_eq!(round_interval(1), 1);
        assert_eq!(round_interval(10 * 31_536_000_000), 31_536_000_000);
    }

    #[test]
    fn frame_times_print_as_rfc3339() {
        assert_eq!(
            format_nanos(1_727_740_800_000_000_000),
            "2024-10-01T00:00:00Z"
        );
        assert_eq!(
            format_nanos(1_727_740_800_123_000_000),
            "2024-10-01T00:00:00.123Z"
        );
    }
}
