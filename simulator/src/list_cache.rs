//! The last few job-list selections, so that paging through a list does not filter and sort
//! every stored job again for every page.
//!
//! Why: a job list request selects its records (the filters over every stored job, then the
//! order) and renders one page of them. A client reading a whole list asks for the same
//! selection once per page: at 1M jobs, 5,000 full scans (and sorts, for orders other than `id`)
//! for `unified_jobs/?page_size=200`, which made the benchmark's 1M cache fill take 781 s of our
//! time. So a selection is remembered as positions in `Sim::jobs`, keyed by everything it
//! depends on: the path, the query parameters but `page` and `page_size`, the simulated now
//! (`elapsed` of running jobs moves with it) and the state's version, which every write access to
//! the state moves (`server::write`: the clock, the workload, purges, the `/_sim/` changes). A
//! later page of the same query at the same version only slices; after any change no entry
//! matches any more (they are dropped at the next insert), so nothing stale is served. Answers
//! are the same byte for byte; only our time changes: faults and the cost model (AWX's time)
//! still apply to every request as before. At most [`CAPACITY`] selections are kept, 4 bytes per
//! matching job each (4 MB for a million).

use crate::server::lock;
use crate::time::Micros;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many selections are kept (the most recently used ones).
pub const CAPACITY: usize = 8;

/// What a selection depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    version: u64,
    now: Micros,
    path: String,
    /// the query parameters in their order, without `page` and `page_size`
    params: Vec<(String, String)>,
}

impl Key {
    pub fn new(version: u64, now: Micros, path: &str, params: &[(String, String)]) -> Key {
        Key {
            version,
            now,
            path: path.to_string(),
            params: params
                .iter()
                .filter(|(k, _)| k != "page" && k != "page_size")
                .cloned()
                .collect(),
        }
    }
}

/// The jobs a list selects, as positions in `Sim::jobs`: the first `sorted` in the list's order,
/// the others after them in no particular order (an order other than `id` is only sorted as far
/// as the pages asked for so far need).
#[derive(Debug)]
pub struct Selection {
    pub idx: Vec<u32>,
    pub sorted: usize,
}

#[derive(Default)]
pub struct ListCache {
    /// the most recently used first
    entries: Mutex<VecDeque<(Key, Arc<Selection>)>>,
    hits: AtomicU64,
}

impl ListCache {
    /// The selection remembered for `key`, if any.
    pub fn get(&self, key: &Key) -> Option<Arc<Selection>> {
        let mut entries = lock(&self.entries);
        let pos = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(pos)?;
        let sel = entry.1.clone();
        entries.push_front(entry);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(sel)
    }

    /// Remembers (or replaces) the selection for `key`. Called under the state's read lock, so
    /// `key`'s version is the current one: entries of other versions can never match again.
    pub fn put(&self, key: Key, sel: Arc<Selection>) {
        let mut entries = lock(&self.entries);
        entries.retain(|(k, _)| k.version == key.version && k.now == key.now && *k != key);
        entries.push_front((key, sel));
        entries.truncate(CAPACITY);
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }

    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many requests were answered from a remembered selection.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        crate::filter::parse_query(Some(q))
    }

    fn sel(n: u32) -> Arc<Selection> {
        Arc::new(Selection {
            idx: (0..n).collect(),
            sorted: n as usize,
        })
    }

    #[test]
    fn pages_share_a_key_other_parameters_do_not() {
        let p = "/api/v2/unified_jobs/";
        let a = Key::new(1, 5, p, &params("order_by=id&page=2&page_size=200"));
        assert_eq!(a, Key::new(1, 5, p, &params("page=7&order_by=id")));
        assert_ne!(a, Key::new(1, 5, p, &params("order_by=-id&page=2")));
        assert_ne!(a, Key::new(1, 5, "/api/v2/jobs/", &params("order_by=id")));
        assert_ne!(a, Key::new(2, 5, p, &params("order_by=id")));
        assert_ne!(a, Key::new(1, 6, p, &params("order_by=id")));
    }

    #[test]
    fn keeps_the_most_recent_and_forgets_older_versions() {
        let c = ListCache::default();
        let key = |v: u64, i: usize| Key::new(v, 0, "/l/", &params(&format!("id__gt={i}")));
        for i in 0..CAPACITY + 2 {
            c.put(key(1, i), sel(i as u32));
        }
        assert_eq!(c.len(), CAPACITY);
        assert!(c.get(&key(1, 0)).is_none() && c.get(&key(1, 1)).is_none());
        // used: stays while the others are pushed out
        assert_eq!(c.get(&key(1, 2)).map(|s| s.idx.len()), Some(2));
        for i in 100..100 + CAPACITY - 1 {
            c.put(key(1, i), sel(1));
        }
        assert!(c.get(&key(1, 2)).is_some());
        assert_eq!(c.hits(), 2);
        // replacing keeps one entry per key
        c.put(key(1, 2), sel(9));
        assert_eq!(c.get(&key(1, 2)).map(|s| s.idx.len()), Some(9));
        assert_eq!(c.len(), CAPACITY);
        // a new version: the old entries go
        c.put(key(2, 0), sel(3));
        assert_eq!(c.len(), 1);
        assert!(c.get(&key(1, 2)).is_none());
        c.clear();
        assert!(c.is_empty());
    }
}
