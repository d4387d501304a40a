//! What happened to AWX's jobs between two syncs of the job store, as events: a job
//! started, a job reached a final status. Each event is produced once per exporter
//! process, whatever the store does in between (re-reads of the same jobs, purges, a
//! refill after a deletion in the middle of history, renames).
//!
//! The baseline is the store at the first sync: jobs already final then were final
//! before the exporter started and never count; jobs already running then count when
//! they end, but their start (and queue wait) is not observed.

use std::collections::HashMap;

use awx_datasource::jobs::{Job, JobTable};

/// Something a job did that a counter or histogram records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The job's `started` appeared: its queue wait is known.
    Started(Job),
    /// The job reached a final status (successful, failed, error, canceled).
    Finished(Job),
}

impl Event {
    pub fn job(&self) -> &Job {
        match self {
            Event::Started(j) | Event::Finished(j) => j,
        }
    }
}

#[derive(Debug)]
pub struct Tally {
    /// The store's epoch and version last read: with the same epoch, the store's change
    /// log says what changed since; otherwise the whole table is compared by id.
    epoch: u64,
    version: u64,
    /// Jobs seen in a status that is not final: id -> whether their start was seen.
    open: HashMap<i64, bool>,
    /// The highest job id seen. AWX numbers jobs in creation order, so a job above it that
    /// turns up when the change log cannot be used is new.
    max_id: i64,
}

impl Tally {
    /// The store's jobs at the first sync: nothing has happened yet.
    pub fn baseline(table: &JobTable) -> Self {
        let mut t = Tally {
            epoch: table.epoch(),
            version: table.version(),
            open: HashMap::new(),
            max_id: 0,
        };
        for j in table.jobs() {
            t.max_id = t.max_id.max(j.id);
            if !j.is_final() {
                t.open.insert(j.id, j.started().is_some());
            }
        }
        t
    }

    /// Jobs seen open and not yet final.
    pub fn open_jobs(&self) -> usize {
        self.open.len()
    }

    /// What happened since the last call (or the baseline), in the order the store saw it.
    pub fn update(&mut self, table: &JobTable) -> Vec<Event> {
        let mut events = Vec::new();
        let logged = (table.epoch() == self.epoch)
            .then(|| table.changes_since(self.version))
            .flatten();
        match logged {
            Some(changes) => {
                for (old, new) in changes {
                    match new {
                        Some(j) => self.see(j, old.is_none(), &mut events),
                        // Purged or deleted in AWX: a counter never falls, so only the
                        // open bookkeeping forgets it.
                        None => {
                            if let Some(o) = old {
                                self.open.remove(&o.id);
                            }
                        }
                    }
                }
            }
            None => {
                // The table was refilled (a job deleted in the middle of history), evicted
                // or renamed: compare it whole. A job not open here and not above every id
                // seen was counted before, or was final at the baseline.
                let seen_up_to = self.max_id;
                let jobs = table.jobs();
                for j in jobs {
                    self.see(j, j.id > seen_up_to, &mut events);
                }
                self.open
                    .retain(|id, _| jobs.binary_search_by_key(id, |j| j.id).is_ok());
            }
        }
        self.epoch = table.epoch();
        self.version = table.version();
        events
    }

    fn see(&mut self, j: &Job, first_seen: bool, events: &mut Vec<Event>) {
        self.max_id = self.max_id.max(j.id);
        if let Some(start_seen) = self.open.get_mut(&j.id) {
            if !*start_seen && j.started().is_some() {
                *start_seen = true;
                events.push(Event::Started(*j));
            }
            if j.is_final() {
                self.open.remove(&j.id);
                events.push(Event::Finished(*j));
            }
        } else if first_seen {
            if j.started().is_some() {
                events.push(Event::Started(*j));
            }
            if j.is_final() {
                events.push(Event::Finished(*j));
            } else {
                self.open.insert(j.id, j.started().is_some());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use awx_datasource::awx::model::UnifiedJob;

    fn row(id: i64, status: &str, started: bool) -> UnifiedJob {
        let finished = matches!(status, "successful" | "failed" | "error" | "canceled");
        serde_json::from_value(serde_json::json!({
            "id": id,
            "type": "job",
            "name": "Deploy",
            "status": status,
            "launch_type": "manual",
            "created": "2024-10-01T00:00:00Z",
            "started": started.then_some("2024-10-01T00:00:05Z"),
            "finished": finished.then_some("2024-10-01T00:01:00Z"),
            "modified": "2024-10-01T00:01:00Z",
            "elapsed": 55.0,
            "summary_fields": {"unified_job_template": {"id": 7, "name": "Deploy"}},
        }))
        .unwrap()
    }

    fn kinds(events: &[Event]) -> Vec<(char, i64)> {
        events
            .iter()
            .map(|e| match e {
                Event::Started(j) => ('S', j.id),
                Event::Finished(j) => ('F', j.id),
            })
            .collect()
    }

    // Tables built from rows are new epochs each time: these tests exercise the
    // comparison by id; tests/export.rs drives a real store through its change log.
    #[test]
    fn a_refilled_table_is_compared_by_id_and_counts_each_job_once() {
        let base = JobTable::from_rows(
            &[
                row(1, "successful", true),
                row(2, "running", true),
                row(3, "pending", false),
            ],
            0,
        );
        let mut t = Tally::baseline(&base);
        assert_eq!(t.open_jobs(), 2);
        let next = JobTable::from_rows(
            &[
                row(1, "successful", true),
                row(2, "failed", true),
                row(3, "running", true),
                row(4, "successful", true),
                row(5, "pending", false),
            ],
            0,
        );
        // Job 2 ends (its start predates the exporter: not observed), 3 starts, 4 is new
        // and already done, 5 is new and waiting; job 1 was final at the baseline.
        assert_eq!(
            kinds(&t.update(&next)),
            [('F', 2), ('S', 3), ('S', 4), ('F', 4)]
        );
        // The same jobs again (a re-read, another refill): nothing new.
        assert!(t.update(&next).is_empty());
        let again = JobTable::from_rows(
            &[
                row(3, "canceled", true),
                row(5, "canceled", false),
                row(6, "error", false),
            ],
            0,
        );
        // Jobs 1, 2 and 4 were purged: counters never fall, nothing is produced.
        assert_eq!(kinds(&t.update(&again)), [('F', 3), ('F', 5), ('F', 6)]);
        assert_eq!(t.open_jobs(), 0);
    }

    #[test]
    fn an_open_job_deleted_in_awx_is_forgotten() {
        let mut t = Tally::baseline(&JobTable::from_rows(&[row(1, "running", true)], 0));
        assert!(t.update(&JobTable::from_rows(&[], 0)).is_empty());
        assert_eq!(t.open_jobs(), 0);
    }
}
