//! The fields of `capacity`, the same whichever source answers: per instance (labels
//! `hostname`, `node_type`, `measure`) and in total (`hostname="total"`), the measures
//! `capacity`, `consumed`, `remaining` and `used` (percent). Prometheus gives them over
//! time, the API as one point (now); alert rules and panels see the same names and labels.

use std::collections::BTreeMap;

use crate::frame::{Field, FieldConfig, Values};
use crate::query::Measure;

/// Per (hostname, node_type): capacity, consumed and remaining, one value per point.
pub type PerHost = BTreeMap<(String, String), [Vec<Option<f64>>; 3]>;

/// The measures of [`PerHost`], in its order.
const MEASURES: [Measure; 3] = [Measure::Capacity, Measure::Consumed, Measure::Remaining];

fn used_percent(capacity: &[Option<f64>], consumed: &[Option<f64>]) -> Vec<Option<f64>> {
    capacity
        .iter()
        .zip(consumed)
        .map(|(c, u)| match (c, u) {
            (Some(c), Some(u)) if *c > 0.0 => Some(u / c * 100.0),
            _ => None,
        })
        .collect()
}

fn percent() -> FieldConfig {
    FieldConfig {
        unit: Some("percent".into()),
        min: Some(0.0),
        max: Some(100.0),
        ..Default::default()
    }
}

/// The value fields of the chosen measures, instances first, then the totals. A total is
/// null at a point where no instance has a value (no scrape), not zero.
pub fn fields(per_host: &PerHost, points: usize, measures: &[Measure]) -> Vec<Field> {
    let mut fields = Vec::with_capacity((per_host.len() + 1) * 4);
    let mut totals: [Vec<Option<f64>>; 3] = std::array::from_fn(|_| vec![None; points]);
    let measure_fields = |values: &[Vec<Option<f64>>; 3],
                          labels: &BTreeMap<String, String>,
                          host: &str,
                          out: &mut Vec<Field>| {
        for (measure, v) in MEASURES.iter().zip(values) {
            if !measures.contains(measure) {
                continue;
            }
            let name = measure.as_str();
            out.push(
                Field::new(name, Values::F64(v.clone()))
                    .with_labels(labels.clone())
                    .with_label("measure", name)
                    .with_unit("short")
                    .with_display_name(format!("{name} {host}")),
            );
        }
        if !measures.contains(&Measure::Used) {
            return;
        }
        out.push(
            Field::new("used", Values::F64(used_percent(&values[0], &values[1])))
                .with_labels(labels.clone())
                .with_label("measure", "used")
                .with_config(percent())
                .with_display_name(format!("used {host}")),
        );
    };
    for ((host, node_type), values) in per_host {
        let labels = BTreeMap::from([
            ("hostname".to_string(), host.clone()),
            ("node_type".to_string(), node_type.clone()),
        ]);
        measure_fields(values, &labels, host, &mut fields);
        for (total, v) in totals.iter_mut().zip(values) {
            for (t, x) in total.iter_mut().zip(v) {
                if let Some(x) = x {
                    *t = Some(t.unwrap_or(0.0) + x);
                }
            }
        }
    }
    let labels = BTreeMap::from([("hostname".to_string(), "total".to_string())]);
    measure_fields(&totals, &labels, "total", &mut fields);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_own_label_set_and_totals_skip_missing_points() {
        let per_host = PerHost::from([
            (
                ("a".into(), "execution".into()),
                [
                    vec![Some(100.0), None],
                    vec![Some(25.0), None],
                    vec![Some(75.0), None],
                ],
            ),
            (
                ("b".into(), "hybrid".into()),
                [
                    vec![Some(50.0), None],
                    vec![Some(50.0), None],
                    vec![Some(0.0), None],
                ],
            ),
        ]);
        assert_eq!(fields(&per_host, 2, &[Measure::Used]).len(), 3);
        let fields = fields(&per_host, 2, Measure::ALL);
        assert_eq!(fields.len(), 12);
        let mut seen = std::collections::BTreeSet::new();
        for f in &fields {
            assert!(
                seen.insert(f.labels.clone()),
                "duplicate labels {:?}",
                f.labels
            );
        }
        let used_total = fields
            .iter()
            .find(|f| f.labels["hostname"] == "total" && f.labels["measure"] == "used")
            .unwrap();
        assert_eq!(used_total.values, Values::F64(vec![Some(50.0), None]));
    }
}
