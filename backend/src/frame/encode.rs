use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampNanosecondArray,
};
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, DataType, Field as ArrowField, Schema, TimeUnit};
use thiserror::Error;

use super::model::{Frame, Values};

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("frame `{frame}`: field `{field}` has {got} values, the first field has {want}")]
    RaggedFields {
        frame: String,
        field: String,
        got: usize,
        want: usize,
    },
    #[error("frame metadata is not serializable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("arrow encoding failed: {0}")]
    Arrow(#[from] ArrowError),
}

/// Encodes a frame as one Arrow IPC *file*, the format Grafana decodes: schema metadata
/// `name`, `refId`, `meta`; field metadata `labels` and `config`; timestamps in ns.
pub fn encode(frame: &Frame, ref_id: &str) -> Result<Vec<u8>, EncodeError> {
    let rows = frame.rows();
    let mut arrow_fields = Vec::with_capacity(frame.fields.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(frame.fields.len());
    for field in &frame.fields {
        if field.values.len() != rows {
            return Err(EncodeError::RaggedFields {
                frame: frame.name.clone(),
                field: field.name.clone(),
                got: field.values.len(),
                want: rows,
            });
        }
        // Grafana decodes a nullable Arrow field as a nullable Go type, and the dataplane
        // readers that alerting uses want the time of a series as plain `[]time.Time`: so a
        // time field is declared nullable only when it holds a null. Other fields stay
        // nullable whatever they hold, so their type does not change from one answer to
        // the next.
        let mut nullable = true;
        let (data_type, column): (DataType, ArrayRef) = match &field.values {
            Values::Time(v) => {
                nullable = v.iter().any(Option::is_none);
                (
                    DataType::Timestamp(TimeUnit::Nanosecond, None),
                    Arc::new(TimestampNanosecondArray::from(v.clone())),
                )
            }
            Values::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Values::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Values::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            Values::Str(v) => (
                DataType::Utf8,
                Arc::new(v.iter().map(Option::as_deref).collect::<StringArray>()),
            ),
        };
        let mut metadata = HashMap::new();
        if !field.labels.is_empty() {
            metadata.insert("labels".to_string(), serde_json::to_string(&field.labels)?);
        }
        if let Some(config) = &field.config {
            metadata.insert("config".to_string(), serde_json::to_string(config)?);
        }
        arrow_fields
            .push(ArrowField::new(&field.name, data_type, nullable).with_metadata(metadata));
        columns.push(column);
    }

    let mut metadata = HashMap::from([
        ("name".to_string(), frame.name.clone()),
        ("refId".to_string(), ref_id.to_string()),
    ]);
    if frame.meta != Default::default() {
        metadata.insert("meta".to_string(), serde_json::to_string(&frame.meta)?);
    }
    let schema = Arc::new(Schema::new(arrow_fields).with_metadata(metadata));

    let mut buf = Vec::new();
    {
        let mut writer = FileWriter::try_new(&mut buf, &schema)?;
        if !columns.is_empty() {
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            let batch = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
            writer.write(&batch)?;
        }
        writer.finish()?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Cursor;

    use arrow_ipc::reader::FileReader;

    use super::*;
    use crate::frame::{Field, FieldConfig, FrameType};

    #[test]
    fn labels_and_config_survive_together() {
        let labels = BTreeMap::from([("template".to_string(), "Deploy".to_string())]);
        let frame = Frame::new("throughput")
            .with_type(FrameType::TimeSeriesWide)
            .with_executed_query("GET /api/v2/unified_jobs/")
            .with_field(Field::new(
                "time",
                Values::Time(vec![Some(1_000), Some(2_000)]),
            ))
            .with_field(
                Field::new("successful", Values::F64(vec![Some(1.0), None]))
                    .with_labels(labels)
                    .with_config(FieldConfig::unit("short")),
            );
        let bytes = encode(&frame, "A").unwrap();
        assert_eq!(&bytes[..6], b"ARROW1");
        let reader = FileReader::try_new(Cursor::new(bytes), None).unwrap();
        let schema = reader.schema();
        assert_eq!(schema.metadata()["refId"], "A");
        assert_eq!(schema.metadata()["name"], "throughput");
        let meta: serde_json::Value = serde_json::from_str(&schema.metadata()["meta"]).unwrap();
        assert_eq!(meta["type"], "timeseries-wide");
        assert_eq!(meta["executedQueryString"], "GET /api/v2/unified_jobs/");
        let f = schema.field(1);
        assert_eq!(f.metadata()["labels"], r#"{"template":"Deploy"}"#);
        assert_eq!(f.metadata()["config"], r#"{"unit":"short"}"#);
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert!(
            !schema.field(0).is_nullable(),
            "a series' time is never null"
        );
        assert!(schema.field(1).is_nullable());
        let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].column(1).null_count(), 1);
    }

    #[test]
    fn a_time_field_with_nulls_is_nullable() {
        let frame = Frame::new("jobs").with_field(Field::new(
            "finished",
            Values::Time(vec![Some(1_000), None]),
        ));
        let reader = FileReader::try_new(Cursor::new(encode(&frame, "A").unwrap()), None).unwrap();
        assert!(reader.schema().field(0).is_nullable());
    }

    #[test]
    fn ragged_fields_are_an_error_not_a_panic() {
        let frame = Frame::new("x")
            .with_field(Field::new("a", Values::I64(vec![Some(1)])))
            .with_field(Field::new("b", Values::I64(vec![])));
        assert!(matches!(
            encode(&frame, "A"),
            Err(EncodeError::RaggedFields { .. })
        ));
    }

    #[test]
    fn an_empty_frame_encodes() {
        let bytes = encode(&Frame::new("empty"), "B").unwrap();
        let reader = FileReader::try_new(Cursor::new(bytes), None).unwrap();
        assert_eq!(reader.schema().metadata()["refId"], "B");
    }
}
