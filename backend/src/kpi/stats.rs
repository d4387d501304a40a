//! Statistics of durations and waits. Percentiles use linear interpolation between
//! the closest ranks (Hyndman & Fan type 7, numpy's default): for sorted x of length n,
//! p-quantile = x[h] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]) with h = (n − 1)p.

use crate::query::Stat;

pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// One statistic of a sample; `count` is 0 for an empty sample, every other one null.
pub fn compute(stat: Stat, sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() {
        return (stat == Stat::Count).then_some(0.0);
    }
    match stat {
        Stat::Count => Some(sorted.len() as f64),
        Stat::Mean => Some(sorted.iter().sum::<f64>() / sorted.len() as f64),
        Stat::Min => sorted.first().copied(),
        Stat::Max => sorted.last().copied(),
        Stat::P50 => quantile(sorted, 0.50),
        Stat::P90 => quantile(sorted, 0.90),
        Stat::P95 => quantile(sorted, 0.95),
        Stat::P99 => quantile(sorted, 0.99),
    }
}

pub fn sort(values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_linearly() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&x, 0.5), Some(2.5));
        assert_eq!(quantile(&x, 0.0), Some(1.0));
        assert_eq!(quantile(&x, 1.0), Some(4.0));
        assert!((quantile(&x, 0.95).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn empty_samples_give_nulls_except_count() {
        assert_eq!(compute(Stat::Count, &[]), Some(0.0));
        assert_eq!(compute(Stat::Mean, &[]), None);
        assert_eq!(compute(Stat::Mean, &[1.0, 2.0]), Some(1.5));
    }
}
