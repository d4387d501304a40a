//! Decoding the plugin's frames with arrow-ipc's FileReader into plain values that
//! tests compare with an oracle.

use std::collections::BTreeMap;
use std::io::Cursor;

use anyhow::{bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::Array;
use arrow_ipc::reader::FileReader;
use arrow_schema::{DataType, TimeUnit};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Time(i64),
    F64(f64),
    I64(i64),
    Bool(bool),
    Str(String),
}

impl Cell {
    pub fn f64(&self) -> Option<f64> {
        match self {
            Cell::F64(v) => Some(*v),
            Cell::I64(v) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn time_ns(&self) -> Option<i64> {
        match self {
            Cell::Time(t) => Some(*t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DecodedField {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    pub labels: BTreeMap<String, String>,
    pub config: Option<Value>,
    pub values: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub struct DecodedFrame {
    pub name: String,
    pub ref_id: String,
    pub meta: Value,
    pub fields: Vec<DecodedField>,
}

impl DecodedFrame {
    pub fn field(&self, name: &str) -> Option<&DecodedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field with this name and these labels (all of them must match).
    pub fn field_with_labels(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DecodedField> {
        self.fields.iter().find(|f| {
            f.name == name
                && labels
                    .iter()
                    .all(|(k, v)| f.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }

    pub fn executed_query(&self) -> &str {
        self.meta
            .get("executedQueryString")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn notices(&self) -> Vec<String> {
        self.meta
            .get("notices")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.get("text")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn decode(bytes: &[u8]) -> Result<DecodedFrame> {
    if bytes.len() < 12 || &bytes[..6] != b"ARROW1" || &bytes[bytes.len() - 6..] != b"ARROW1" {
        bail!("not an Arrow IPC file (Grafana needs the file format, magic ARROW1 at both ends)");
    }
    let reader = FileReader::try_new(Cursor::new(bytes.to_vec()), None).context("arrow file")?;
    let schema = reader.schema();
    let md = schema.metadata();
    let meta = match md.get("meta") {
        Some(m) => serde_json::from_str(m).context("meta JSON")?,
        None => Value::Null,
    };
    let mut fields: Vec<DecodedField> = schema
        .fields()
        .iter()
        .map(|f| -> Result<DecodedField> {
            Ok(DecodedField {
                name: f.name().clone(),
                data_type: f.data_type().clone(),
                nullable: f.is_nullable(),
                labels: match f.metadata().get("labels") {
                    Some(l) => serde_json::from_str(l).context("labels JSON")?,
                    None => BTreeMap::new(),
                },
                config: match f.metadata().get("config") {
                    Some(c) => Some(serde_json::from_str(c).context("config JSON")?),
                    None => None,
                },
                values: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    for batch in reader {
        let batch = batch.context("record batch")?;
        for (i, col) in batch.columns().iter().enumerate() {
            let out = &mut fields[i].values;
            for row in 0..col.len() {
                if col.is_null(row) {
                    out.push(Cell::Null);
                    continue;
                }
                out.push(match col.data_type() {
                    DataType::Timestamp(TimeUnit::Nanosecond, None) => {
                        Cell::Time(col.as_primitive::<TimestampNanosecondType>().value(row))
                    }
                    DataType::Float64 => Cell::F64(col.as_primitive::<Float64Type>().value(row)),
                    DataType::Int64 => Cell::I64(col.as_primitive::<Int64Type>().value(row)),
                    DataType::Boolean => Cell::Bool(col.as_boolean().value(row)),
                    DataType::Utf8 => Cell::Str(col.as_string::<i32>().value(row).to_string()),
                    other => bail!(
                        "field {} has type {other}, which Grafana frames do not use here",
                        fields[i].name
                    ),
                });
            }
        }
    }
    Ok(DecodedFrame {
        name: md.get("name").cloned().unwrap_or_default(),
        ref_id: md.get("refId").cloned().unwrap_or_default(),
        meta,
        fields,
    })
}

/// Asserts that two answers to one query (say, with and without the job cache) have the
/// same fields, labels and values; `what` names the query in the failure.
pub fn assert_same_fields(a: &DecodedFrame, b: &DecodedFrame, what: &str) {
    assert_eq!(a.fields.len(), b.fields.len(), "{what}: field count");
    for (x, y) in a.fields.iter().zip(&b.fields) {
        assert_eq!((&x.name, &x.labels), (&y.name, &y.labels), "{what}");
        assert_eq!(
            x.values, y.values,
            "{what}: field {} {:?} differs with and without the cache",
            x.name, x.labels
        );
    }
}

/// What Grafana's alerting needs of a frame: a wide series (one time field, not
/// nullable: Grafana's dataplane readers want `[]time.Time`; number fields with a distinct
/// label set each), numeric-wide (one row, number fields with a distinct label set each)
/// or a numeric table (one number field, only string fields beside it, no time field).
/// The Go host (tests/grafana-host) judges with Grafana's own readers; this is the quick
/// check the Rust tests make on every answer.
pub fn assert_alertable(frame: &DecodedFrame) {
    match frame.meta["type"].as_str() {
        Some("timeseries-wide") => {
            let times = frame
                .fields
                .iter()
                .filter(|f| matches!(f.data_type, DataType::Timestamp(..)))
                .count();
            assert_eq!(times, 1, "{}: one time field", frame.name);
            assert!(
                frame
                    .fields
                    .iter()
                    .all(|f| !matches!(f.data_type, DataType::Timestamp(..)) || !f.nullable),
                "{}: the time field is not nullable",
                frame.name
            );
            assert_distinct_labels(frame);
        }
        Some("numeric-wide") => {
            assert!(frame.rows() <= 1, "{}: one row", frame.name);
            assert_distinct_labels(frame);
        }
        Some("numeric-long") => {
            let numbers = frame
                .fields
                .iter()
                .filter(|f| matches!(f.data_type, DataType::Float64 | DataType::Int64))
                .count();
            assert_eq!(numbers, 1, "{}: one number field", frame.name);
            assert!(
                frame.fields.iter().all(|f| matches!(
                    f.data_type,
                    DataType::Float64 | DataType::Int64 | DataType::Utf8
                )),
                "{}: only strings beside it",
                frame.name
            );
        }
        other => panic!("{}: not an alerting shape ({other:?})", frame.name),
    }
}

fn assert_distinct_labels(frame: &DecodedFrame) {
    let mut seen = std::collections::BTreeSet::new();
    for f in frame
        .fields
        .iter()
        .filter(|f| !matches!(f.data_type, DataType::Timestamp(..)))
    {
        assert!(
            matches!(f.data_type, DataType::Float64 | DataType::Int64),
            "{}: {} is numeric",
            frame.name,
            f.name
        );
        assert!(
            seen.insert(f.labels.clone()),
            "{}: field {} repeats the label set {:?}",
            frame.name,
            f.name,
            f.labels
        );
    }
}
