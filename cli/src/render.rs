//! Frames as text: a title and an ASCII table, CSV, or JSON.
//!
//! Headers are the field name with its labels, as Grafana's legend shows them
//! (`jobs{status=failed}`), and the unit when it says something (`duration (s)`).
//! Times print as RFC 3339 (UTC); nulls print as empty cells.

use serde_json::{json, Map, Value};

use awx_datasource::frame::{Field, Frame, Values};

use crate::timespec::format_nanos;

/// `name{k=v,k2=v2} (unit)`.
pub fn header(field: &Field) -> String {
    let mut h = field.name.clone();
    if !field.labels.is_empty() {
        let labels: Vec<String> = field
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        h.push('{');
        h.push_str(&labels.join(","));
        h.push('}');
    }
    let unit = field.config.as_ref().and_then(|c| c.unit.as_deref());
    match unit {
        None | Some("short") | Some("none") | Some("") => {}
        Some("percent") => h.push_str(" (%)"),
        Some(u) => {
            h.push_str(" (");
            h.push_str(u);
            h.push(')');
        }
    }
    h
}

/// A number for reading: whole numbers without decimals, others with two decimals
/// (three significant digits below 1), trailing zeros dropped; the field's
/// `decimals` config wins when set.
pub fn format_number(v: f64, decimals: Option<u8>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if let Some(d) = decimals {
        return format!("{v:.*}", d as usize);
    }
    if v == 0.0 {
        return "0".into(); // and not "-0"
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let abs = v.abs();
    let places = if abs >= 1.0 {
        2
    } else {
        // 0.0123 -> 4 places: three significant digits.
        (2 - abs.log10().floor() as i64).clamp(2, 12) as usize
    };
    let s = format!("{v:.places$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Control characters would break a table's lines: show them escaped.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A cell for a table: `None` for a null.
pub fn table_cell(field: &Field, row: usize) -> Option<String> {
    let decimals = field.config.as_ref().and_then(|c| c.decimals);
    match &field.values {
        Values::Time(v) => v.get(row).copied().flatten().map(format_nanos),
        Values::F64(v) => v
            .get(row)
            .copied()
            .flatten()
            .map(|x| format_number(x, decimals)),
        Values::I64(v) => v.get(row).copied().flatten().map(|x| x.to_string()),
        Values::Bool(v) => v.get(row).copied().flatten().map(|x| x.to_string()),
        Values::Str(v) => v.get(row).cloned().flatten().map(|s| one_line(&s)),
    }
}

/// A cell for CSV: full precision.
pub fn raw_cell(field: &Field, row: usize) -> Option<String> {
    match &field.values {
        Values::F64(v) => v.get(row).copied().flatten().map(|x| x.to_string()),
        Values::Str(v) => v.get(row).cloned().flatten(),
        _ => table_cell(field, row),
    }
}

fn is_numeric(field: &Field) -> bool {
    matches!(field.values, Values::F64(_) | Values::I64(_))
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// The title lines: the frame name (or `fallback`), what was asked of AWX or
/// Prometheus, and the notices.
pub fn title(frame: &Frame, fallback: &str) -> String {
    let name = if frame.name.is_empty() {
        fallback
    } else {
        &frame.name
    };
    let mut out = format!("{name}\n");
    if let Some(q) = &frame.meta.executed_query_string {
        for (i, line) in q.lines().enumerate() {
            let lead = if i == 0 { "  query: " } else { "         " };
            out.push_str(lead);
            out.push_str(line);
            out.push('\n');
        }
    }
    for n in &frame.meta.notices {
        let severity = serde_json::to_value(n.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!("  {severity}: {}\n", one_line(&n.text)));
    }
    out
}

/// The frame as an ASCII table with a row count under it.
pub fn table(frame: &Frame) -> String {
    let rows = frame.rows();
    let headers: Vec<String> = frame.fields.iter().map(header).collect();
    let cells: Vec<Vec<String>> = frame
        .fields
        .iter()
        .map(|f| {
            (0..rows)
                .map(|r| table_cell(f, r).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .zip(&cells)
        .map(|(h, col)| {
            col.iter()
                .map(|c| width(c))
                .chain([width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let line = |values: &mut dyn Iterator<Item = (usize, &str)>| {
        let mut s = String::from("|");
        for (i, v) in values {
            let pad = " ".repeat(widths[i] - width(v));
            if is_numeric(&frame.fields[i]) {
                s.push_str(&format!(" {pad}{v} |"));
            } else {
                s.push_str(&format!(" {v}{pad} |"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = String::new();
    if frame.fields.is_empty() {
        out.push_str("(no fields)\n");
        return out;
    }
    out.push_str(&rule);
    out.push_str(&line(
        &mut headers.iter().enumerate().map(|(i, h)| (i, h.as_str())),
    ));
    out.push_str(&rule);
    for r in 0..rows {
        out.push_str(&line(
            &mut cells
                .iter()
                .enumerate()
                .map(|(i, col)| (i, col[r].as_str())),
        ));
    }
    if rows > 0 {
        out.push_str(&rule);
    }
    out.push_str(&format!(
        "({rows} row{})\n",
        if rows == 1 { "" } else { "s" }
    ));
    out
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The frame as CSV: a header row, then one line per row; nulls are empty.
pub fn csv(frame: &Frame) -> String {
    let mut out = String::new();
    let headers: Vec<String> = frame.fields.iter().map(|f| csv_quote(&header(f))).collect();
    out.push_str(&headers.join(","));
    out.push('\n');
    for r in 0..frame.rows() {
        let row: Vec<String> = frame
            .fields
            .iter()
            .map(|f| csv_quote(&raw_cell(f, r).unwrap_or_default()))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn field_json(f: &Field) -> Value {
    let (kind, values): (&str, Vec<Value>) = match &f.values {
        Values::Time(v) => (
            "time",
            v.iter().map(|t| t.map(format_nanos).into()).collect(),
        ),
        Values::F64(v) => ("number", v.iter().map(|x| json!(x)).collect()),
        Values::I64(v) => ("number", v.iter().map(|x| json!(x)).collect()),
        Values::Bool(v) => ("boolean", v.iter().map(|x| json!(x)).collect()),
        Values::Str(v) => ("string", v.iter().map(|x| json!(x)).collect()),
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(f.name));
    m.insert("type".into(), json!(kind));
    if !f.labels.is_empty() {
        m.insert("labels".into(), json!(f.labels));
    }
    if let Some(c) = &f.config {
        m.insert("config".into(), json!(c));
    }
    m.insert("values".into(), Value::Array(values));
    Value::Object(m)
}

/// A frame as JSON: name, meta (as Grafana receives it), fields with their values.
pub fn frame_json(frame: &Frame) -> Value {
    json!({
        "name": frame.name,
        "meta": frame.meta,
        "fields": frame.fields.iter().map(field_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use awx_datasource::frame::{FieldConfig, FrameType, Severity};

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// 2024-10-01T00:00:00Z and an hour later, in nanoseconds.
    const T0: i64 = 1_727_740_800_000_000_000;
    const HOUR: i64 = 3_600_000_000_000;

    fn sample() -> Frame {
        Frame::new("job_duration")
            .with_type(FrameType::TimeSeriesWide)
            .with_executed_query("GET /api/v2/unified_jobs/?finished__gte=x\nsecond line")
            .with_notice(Severity::Warning, "approximate")
            .with_field(Field::new(
                "time",
                Values::Time(vec![Some(T0), Some(T0 + HOUR), None]),
            ))
            .with_field(
                Field::new(
                    "mean",
                    Values::F64(vec![Some(12.3456), None, Some(0.0123456)]),
                )
                .with_labels(labels(&[("template", "Deploy")]))
                .with_unit("s"),
            )
            .with_field(
                Field::new(
                    "jobs",
                    Values::F64(vec![Some(3.0), Some(1200.0), Some(0.0)]),
                )
                .with_labels(labels(&[("status", "failed"), ("org", "Ops")])),
            )
            .with_field(
                Field::new("rate", Values::F64(vec![Some(50.0), Some(33.3333), None]))
                    .with_unit("percent"),
            )
            .with_field(Field::new(
                "note",
                Values::strings([Some("ok"), None, Some("two\nlines, \"quoted\"")]),
            ))
    }

    #[test]
    fn tables_show_labels_units_times_and_nulls() {
        let f = sample();
        let text = format!("{}{}", title(&f, "x"), table(&f));
        let golden = r#"job_duration
  query: GET /api/v2/unified_jobs/?finished__gte=x
         second line
  warning: approximate
+----------------------+---------------------------+-----------------------------+----------+----------------------+
| time                 | mean{template=Deploy} (s) | jobs{org=Ops,status=failed} | rate (%) | note                 |
+----------------------+---------------------------+-----------------------------+----------+----------------------+
| 2024-10-01T00:00:00Z |                     12.35 |                           3 |       50 | ok                   |
| 2024-10-01T01:00:00Z |                           |                        1200 |    33.33 |                      |
|                      |                    0.0123 |                           0 |          | two\nlines, "quoted" |
+----------------------+---------------------------+-----------------------------+----------+----------------------+
(3 rows)
"#;
        assert_eq!(text, golden);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(3.0, None), "3");
        assert_eq!(format_number(-0.0, None), "0");
        assert_eq!(format_number(12.3456, None), "12.35");
        assert_eq!(format_number(12.5, None), "12.5");
        assert_eq!(format_number(0.0123456, None), "0.0123");
        assert_eq!(format_number(0.5, None), "0.5");
        assert_eq!(format_number(-2.004, None), "-2");
        assert_eq!(format_number(1234567.891, None), "1234567.89");
        assert_eq!(format_number(2.0, Some(1)), "2.0");
        assert_eq!(format_number(f64::NAN, None), "NaN");
        assert_eq!(format_number(f64::INFINITY, None), "+Inf");
    }

    #[test]
    fn csv_quotes_and_keeps_full_precision() {
        let golden =
            "time,mean{template=Deploy} (s),\"jobs{org=Ops,status=failed}\",rate (%),note\n\
            2024-10-01T00:00:00Z,12.3456,3,50,ok\n\
            2024-10-01T01:00:00Z,,1200,33.3333,\n\
            ,0.0123456,0,,\"two\nlines, \"\"quoted\"\"\"\n";
        assert_eq!(csv(&sample()), golden);
    }

    #[test]
    fn json_keeps_types_labels_config_and_nulls() {
        let v = frame_json(&sample());
        assert_eq!(v["name"], json!("job_duration"));
        assert_eq!(v["meta"]["type"], json!("timeseries-wide"));
        assert_eq!(v["meta"]["notices"][0]["severity"], json!("warning"));
        assert_eq!(
            v["fields"][0],
            json!({"name": "time", "type": "time",
                   "values": ["2024-10-01T00:00:00Z", "2024-10-01T01:00:00Z", null]})
        );
        assert_eq!(
            v["fields"][1],
            json!({"name": "mean", "type": "number", "labels": {"template": "Deploy"},
                   "config": {"unit": "s"}, "values": [12.3456, null, 0.0123456]})
        );
        assert_eq!(v["fields"][4]["values"][1], Value::Null);
    }

    #[test]
    fn a_frame_without_rows_still_shows_its_columns() {
        let f = Frame::new("").with_field(
            Field::new("count", Values::F64(vec![])).with_config(FieldConfig::unit("short")),
        );
        assert_eq!(
            format!("{}{}", title(&f, "job_status_counts"), table(&f)),
            "job_status_counts\n+-------+\n| count |\n+-------+\n(0 rows)\n"
        );
    }
}
