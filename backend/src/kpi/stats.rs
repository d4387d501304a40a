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

/// The k-th smallest value (0-based) of an unsorted sample, reordering it: O(n), where
/// sorting would be O(n log n). Equal to `sorted[k]`.
fn kth(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The same value as [`quantile`] of the sorted sample, by selection.
pub fn quantile_unsorted(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let h = (values.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let below = kth(values, lo);
    if lo + 1 >= values.len() {
        return Some(below);
    }
    // After the selection every value past `lo` is at least `values[lo]`.
    let above = values[lo + 1..]
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .unwrap_or(below);
    Some(below + (h - lo as f64) * (above - below))
}

/// Several statistics of one sample (in any order; it is reordered), each equal to
/// [`compute`] on the sorted sample except that the mean sums in the sample's order.
/// Small samples are sorted; larger ones use selection.
pub fn summarize(wanted: &[Stat], values: &mut [f64]) -> Vec<Option<f64>> {
    if values.len() <= 64 {
        sort(values);
        let mean = compute(Stat::Mean, values);
        return wanted
            .iter()
            .map(|s| match s {
                Stat::Mean => mean,
                s => compute(*s, values),
            })
            .collect();
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    wanted
        .iter()
        .map(|s| match s {
            Stat::Count => Some(n),
            Stat::Mean => Some(mean),
            Stat::Min => values.iter().copied().min_by(f64::total_cmp),
            Stat::Max => values.iter().copied().max_by(f64::total_cmp),
            Stat::P50 => quantile_unsorted(values, 0.50),
            Stat::P90 => quantile_unsorted(values, 0.90),
            Stat::P95 => quantile_unsorted(values, 0.95),
            Stat::P99 => quantile_unsorted(values, 0.99),
        })
        .collect()
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
    fn summaries_by_selection_equal_the_sorted_computation() {
        let all = [
            Stat::Count,
            Stat::Mean,
            Stat::Min,
            Stat::Max,
            Stat::P50,
            Stat::P90,
            Stat::P95,
            Stat::P99,
        ];
        for n in [0usize, 1, 2, 3, 64, 65, 100, 1001] {
            // A deterministic shuffle with repeated values.
            let sample: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 * 0.5).collect();
            let mut sorted = sample.clone();
            sort(&mut sorted);
            let mut work = sample.clone();
            let got = summarize(&all, &mut work);
            for (stat, g) in all.iter().zip(got) {
                let want = compute(*stat, &sorted);
                match (g, want) {
                    (Some(g), Some(w)) => assert!(
                        (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                        "{stat} n={n}: {g} vs {w}"
                    ),
                    (g, w) => assert_eq!(g, w, "{stat} n={n}"),
                }
            }
        }
    }

    #[test]
    fn empty_samples_give_nulls_except_count() {
        assert_eq!(compute(Stat::Count, &[]), Some(0.0));
        assert_eq!(compute(Stat::Mean, &[]), None);
        assert_eq!(compute(Stat::Mean, &[1.0, 2.0]), Some(1.5));
    }
}
