use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Column values. Every variant is nullable: missing values are nulls, never zeros.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Nanoseconds since the Unix epoch.
    Time(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Time(v) | Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn times(values: impl IntoIterator<Item = Option<DateTime<Utc>>>) -> Self {
        Values::Time(
            values
                .into_iter()
                .map(|t| t.and_then(|t| t.timestamp_nanos_opt()))
                .collect(),
        )
    }

    pub fn strings<S: Into<String>>(values: impl IntoIterator<Item = Option<S>>) -> Self {
        Values::Str(values.into_iter().map(|s| s.map(Into::into)).collect())
    }
}

/// A link shown on a table cell (Grafana's data link, `${__value.raw}` etc. expand in it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub title: String,
    pub url: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_blank: bool,
}

/// The subset of Grafana's FieldConfig that this data source sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldConfig {
    #[serde(rename = "displayNameFromDS", skip_serializing_if = "Option::is_none")]
    pub display_name_from_ds: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl FieldConfig {
    pub fn unit(unit: &str) -> Self {
        Self {
            unit: Some(unit.to_string()),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub values: Values,
    pub labels: BTreeMap<String, String>,
    pub config: Option<FieldConfig>,
}

impl Field {
    pub fn new(name: impl Into<String>, values: Values) -> Self {
        Self {
            name: name.into(),
            values,
            labels: BTreeMap::new(),
            config: None,
        }
    }

    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets the name Grafana shows (keeping any config already set).
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.config
            .get_or_insert_with(FieldConfig::default)
            .display_name_from_ds = Some(name.into());
        self
    }

    pub fn with_config(mut self, config: FieldConfig) -> Self {
        self.config = Some(config);
        self
    }

    pub fn with_unit(self, unit: &str) -> Self {
        self.with_config(FieldConfig::unit(unit))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub severity: Severity,
    pub text: String,
}

/// Grafana's dataplane frame types, so that alerting and expressions read our frames
/// without falling back to guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FrameType {
    #[serde(rename = "timeseries-wide")]
    TimeSeriesWide,
    #[serde(rename = "numeric-wide")]
    NumericWide,
    #[serde(rename = "numeric-long")]
    NumericLong,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameMeta {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub frame_type: Option<FrameType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_version: Option<[u32; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_query_string: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_visualisation_type: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub name: String,
    pub fields: Vec<Field>,
    pub meta: FrameMeta,
}

impl Frame {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fields: Vec::new(),
            meta: FrameMeta::default(),
        }
    }

    pub fn with_field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    pub fn with_fields(mut self, fields: impl IntoIterator<Item = Field>) -> Self {
        self.fields.extend(fields);
        self
    }

    pub fn with_type(mut self, t: FrameType) -> Self {
        self.meta.frame_type = Some(t);
        self.meta.type_version = Some([0, 1]);
        self
    }

    pub fn with_executed_query(mut self, q: impl Into<String>) -> Self {
        self.meta.executed_query_string = Some(q.into());
        self
    }

    pub fn with_notice(mut self, severity: Severity, text: impl Into<String>) -> Self {
        self.meta.notices.push(Notice {
            severity,
            text: text.into(),
        });
        self
    }

    pub fn with_visualisation(mut self, v: &'static str) -> Self {
        self.meta.preferred_visualisation_type = Some(v);
        self
    }

    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_config_uses_grafanas_key_names() {
        let c = FieldConfig {
            display_name_from_ds: Some("p95 Deploy".into()),
            unit: Some("s".into()),
            links: vec![Link {
                title: "Open".into(),
                url: "${__data.fields.link}".into(),
                target_blank: true,
            }],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"displayNameFromDS":"p95 Deploy","unit":"s","links":[{"title":"Open","url":"${__data.fields.link}","targetBlank":true}]}"#
        );
    }
}
