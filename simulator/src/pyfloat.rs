//! Float formatting the Python way: `repr(float)` for JSON and the subsystem metrics, and
//! prometheus_client's `floatToGoString` for the main metrics.

/// Shortest round-trip digits and decimal exponent: `v = 0.d1d2d3... * 10^exp10`.
fn digits(v: f64) -> (String, i32) {
    // `{:e}` gives the shortest round-trip representation, e.g. `8.201465856e9`.
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0').to_string();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    (digits, exp + 1)
}

/// Python's `repr(float)`.
pub fn repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let (d, e) = digits(v);
    // Python switches to exponent notation when the decimal exponent is < -4 or >= 16.
    let sci_exp = e - 1;
    if !(-4..16).contains(&sci_exp) {
        let mut m = d[..1].to_string();
        if d.len() > 1 {
            m.push('.');
            m.push_str(&d[1..]);
        }
        let es = if sci_exp < 0 { "-" } else { "+" };
        return format!("{sign}{m}e{es}{:02}", sci_exp.abs());
    }
    if e <= 0 {
        format!("{sign}0.{}{}", "0".repeat((-e) as usize), d)
    } else if (e as usize) >= d.len() {
        format!("{sign}{}{}.0", d, "0".repeat(e as usize - d.len()))
    } else {
        format!("{sign}{}.{}", &d[..e as usize], &d[e as usize..])
    }
}

/// prometheus_client's `floatToGoString` (used by `generate_latest` for sample values).
pub fn go_string(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v.is_nan() {
        return "NaN".into();
    }
    let s = repr(v);
    if let Some(dot) = s.find('.') {
        if v > 0.0 && dot > 6 {
            let mut mant = format!("{}.{}{}", &s[..1], &s[1..dot], &s[dot + 1..]);
            while mant.ends_with('0') || mant.ends_with('.') {
                mant.pop();
            }
            return format!("{mant}e+0{}", dot - 1);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr() {
        assert_eq!(repr(0.0), "0.0");
        assert_eq!(repr(1.0), "1.0");
        assert_eq!(repr(44.024), "44.024");
        assert_eq!(repr(0.0123), "0.0123");
        assert_eq!(repr(1729700000.123), "1729700000.123");
        assert_eq!(repr(1e16), "1e+16");
        assert_eq!(repr(1e-5), "1e-05");
        assert_eq!(repr(0.0001), "0.0001");
        assert_eq!(repr(-2.5), "-2.5");
        assert_eq!(repr(120.0), "120.0");
    }

    #[test]
    fn go_strings() {
        assert_eq!(go_string(8201465856.0), "8.201465856e+09");
        assert_eq!(go_string(59.0), "59.0");
        assert_eq!(go_string(123456.0), "123456.0");
        assert_eq!(go_string(1234567.0), "1.234567e+06");
        assert_eq!(go_string(0.0), "0.0");
    }
}
