//! The exporter's metrics: what they are called, their labels and buckets, the bound on
//! their cardinality, and their encoding in the Prometheus text format (0.0.4) or
//! OpenMetrics, both by the Prometheus project's client library.
//!
//! Counters and histograms only ever grow within a process. A series seen for the
//! first time is exposed at zero before it counts anything (see [`Metrics::offer`]):
//! Prometheus's `rate()` and `increase()` take a series' first sample as its starting
//! point, so a series born at 1 would lose its first job, the first failure of a
//! template included.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use awx_datasource::jobs::{Interner, Job, Ref};

use super::tally::Event;

/// Run time (AWX's `elapsed`): from seconds (a ping) to a day (a fleet-wide patch run).
pub const ELAPSED_BUCKETS: [f64; 15] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
    28800.0, 86400.0,
];
/// Queue wait (`started − created`): AWX starts an idle job within seconds; minutes and
/// hours mean a queue (no capacity, a dependency, a template that does not run in parallel).
pub const WAIT_BUCKETS: [f64; 13] = [
    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

/// The label of the templates beyond `--max-templates`.
pub const OTHER: &str = "(other)";
/// The label of an object a job does not have (ad hoc commands have no template).
pub const NONE: &str = "(none)";
const UNKNOWN: &str = "(unknown)";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub status: String,
    pub job_template_name: String,
    pub organization: String,
    pub job_type: String,
    pub launch_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WaitLabels {
    pub job_template_name: String,
    pub organization: String,
    pub job_type: String,
    pub launch_type: String,
}

/// One series of the exporter's counters and histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum SeriesKey {
    Jobs(JobLabels),
    Elapsed(JobLabels),
    Wait(WaitLabels),
}

/// An event as the series it adds to: the counter (+1) or a histogram (an observation).
#[derive(Clone, Debug)]
struct Observation(Vec<(SeriesKey, f64)>);

/// At most `max` distinct template names become labels; the rest are folded into
/// [`OTHER`]. Names are admitted as they are first seen, and stay.
#[derive(Debug)]
pub struct TemplateCap {
    max: usize,
    admitted: HashSet<String>,
}

impl TemplateCap {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            admitted: HashSet::new(),
        }
    }

    fn label(&mut self, name: &str) -> String {
        if self.admitted.contains(name) {
            return name.to_string();
        }
        if self.admitted.len() < self.max {
            self.admitted.insert(name.to_string());
            return name.to_string();
        }
        OTHER.to_string()
    }

    pub fn admitted(&self) -> usize {
        self.admitted.len()
    }
}

fn object(names: &Interner, r: Ref) -> &str {
    names.resolve(names.name_of(r)).unwrap_or(NONE)
}

/// The gauges, read from AWX at each scrape; a value AWX could not give is left out of
/// the exposition (its series goes stale) rather than repeated.
#[derive(Debug, Default)]
pub struct Gauges {
    pub running: Option<u64>,
    pub pending: Option<u64>,
    /// (hostname, node_type, consumed capacity) of the instances AWX's own metrics list.
    pub capacity: Option<Vec<(String, String, f64)>>,
    pub last_sync: Option<f64>,
    pub start_time: f64,
}

#[derive(Debug)]
struct GaugeCollector(Arc<Mutex<Gauges>>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    hostname: String,
    node_type: String,
}

impl Collector for GaugeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let gauge_type = ConstGauge::new(0.0f64).metric_type();
        let mut one = |name: &str, help: &str, unit: Option<&Unit>, v: f64| {
            let e = encoder.encode_descriptor(name, help, unit, gauge_type)?;
            ConstGauge::new(v).encode(e)
        };
        if let Some(v) = g.running {
            one(
                "awx_running_jobs",
                "Jobs running or waiting in AWX now, implicit project syncs left out unless --include-syncs (the jobs AWX's awx_running_jobs_total counts).",
                None,
                v as f64,
            )?;
        }
        if let Some(v) = g.pending {
            one(
                "awx_pending_jobs",
                "Jobs pending in AWX now, implicit project syncs left out unless --include-syncs (the jobs AWX's awx_pending_jobs_total counts).",
                None,
                v as f64,
            )?;
        }
        one(
            "awx_exporter_start_time",
            "When this exporter process started, in Unix seconds: its counters count from its first successful AWX sync after this.",
            Some(&Unit::Seconds),
            g.start_time,
        )?;
        if let Some(v) = g.last_sync {
            one(
                "awx_exporter_last_sync_timestamp",
                "When the exporter last read AWX's jobs and instances without an error, in Unix seconds.",
                Some(&Unit::Seconds),
                v,
            )?;
        }
        if let Some(hosts) = &g.capacity {
            let mut e = encoder.encode_descriptor(
                "awx_capacity",
                "Capacity consumed on each instance (AWX's instances/ consumed_capacity), for the instances AWX's own metrics list (ready, enabled, not hop nodes): (sum(awx_capacity) / sum(awx_instance_capacity)) * 100 is the used percentage.",
                None,
                gauge_type,
            )?;
            for (hostname, node_type, v) in hosts {
                let labels = InstanceLabels {
                    hostname: hostname.clone(),
                    node_type: node_type.clone(),
                };
                ConstGauge::new(*v).encode(e.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The exposition format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: what Prometheus reads without negotiation, and curl shows.
    PrometheusText,
    /// `application/openmetrics-text; version=1.0.0`: what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::PrometheusText => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// OpenMetrics when the Accept header prefers it (by q-value) to plain text; plain
    /// text otherwise, and for no header or one that cannot be read.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Format::PrometheusText;
        };
        let mut openmetrics = 0.0f32;
        let mut text = 0.0f32;
        for item in accept.split(',') {
            let Ok(m) = item.trim().parse::<mime::Mime>() else {
                continue;
            };
            let q = m
                .get_param("q")
                .and_then(|q| q.as_str().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            match (m.type_().as_str(), m.subtype().as_str()) {
                ("application", "openmetrics-text") => openmetrics = openmetrics.max(q),
                ("text", "plain") | ("text", "*") | ("*", "*") => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Count implicit project syncs (`launch_type=sync`) too; AWX's own metrics leave them out.
    pub include_syncs: bool,
    /// How long a new series stays at zero (and for at least one scrape) before it counts.
    pub hold: Duration,
    pub max_templates: usize,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<JobLabels, Counter>,
    elapsed: Family<JobLabels, Histogram, fn() -> Histogram>,
    wait: Family<WaitLabels, Histogram, fn() -> Histogram>,
    sync_errors: Counter,
    awx_requests: Counter,
    requests_seen: u64,
    gauges: Arc<Mutex<Gauges>>,
    opts: Options,
    templates: TemplateCap,
    /// When each series younger than the hold was created.
    born: HashMap<SeriesKey, Instant>,
    /// Events waiting for their new series to have been exposed at zero.
    pending: Vec<Observation>,
}

fn elapsed_histogram() -> Histogram {
    Histogram::new(ELAPSED_BUCKETS)
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

impl Metrics {
    pub fn new(opts: Options, start_time: f64) -> Self {
        let mut registry = Registry::default();
        let jobs = Family::<JobLabels, Counter>::default();
        let elapsed = Family::<JobLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            elapsed_histogram,
        );
        let wait = Family::<WaitLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            wait_histogram,
        );
        let sync_errors = Counter::default();
        let awx_requests = Counter::default();
        registry.register(
            "awx_jobs",
            "Jobs that reached a final status (successful, failed, error, canceled) since this exporter started; AWX purging jobs never lowers it",
            jobs.clone(),
        );
        registry.register_with_unit(
            "awx_job_elapsed",
            "Run time of the jobs that finished since this exporter started (AWX's elapsed: finished - started; jobs that never started are left out)",
            Unit::Seconds,
            elapsed.clone(),
        );
        registry.register_with_unit(
            "awx_job_wait",
            "Queue wait of the jobs that started since this exporter started (started - created: new, pending and waiting)",
            Unit::Seconds,
            wait.clone(),
        );
        registry.register(
            "awx_exporter_sync_errors",
            "Reads of AWX (jobs or instances) that failed; the metrics of a failed read are left out of that scrape",
            sync_errors.clone(),
        );
        registry.register(
            "awx_exporter_awx_requests",
            "HTTP requests this exporter sent to AWX, retries included",
            awx_requests.clone(),
        );
        let gauges = Arc::new(Mutex::new(Gauges {
            start_time,
            ..Default::default()
        }));
        registry.register_collector(Box::new(GaugeCollector(gauges.clone())));
        Metrics {
            registry,
            jobs,
            elapsed,
            wait,
            sync_errors,
            awx_requests,
            requests_seen: 0,
            gauges,
            templates: TemplateCap::new(opts.max_templates),
            opts,
            born: HashMap::new(),
            pending: Vec::new(),
        }
    }

    pub fn gauges(&self) -> std::sync::MutexGuard<'_, Gauges> {
        self.gauges.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sync_failed(&self) {
        self.sync_errors.inc();
    }

    /// Brings the request counter up to the AWX client's own count.
    pub fn requests_sent(&mut self, total: u64) {
        if total > self.requests_seen {
            self.awx_requests.inc_by(total - self.requests_seen);
            self.requests_seen = total;
        }
    }

    /// Whether a job counts: AWX's metrics leave implicit project syncs out.
    pub fn counts(&self, j: &Job) -> bool {
        self.opts.include_syncs || !j.is_sync()
    }

    pub fn templates_admitted(&self) -> usize {
        self.templates.admitted()
    }

    /// The series an event adds to (with its names as AWX has them now), or none for a job
    /// that does not count.
    fn observe(&mut self, ev: &Event, names: &Interner) -> Option<Observation> {
        let j = ev.job();
        if !self.counts(j) {
            return None;
        }
        let template = self.templates.label(object(names, j.template));
        let organization = object(names, j.organization).to_string();
        let job_type = j.job_type.map_or(UNKNOWN, |t| t.as_str()).to_string();
        let launch_type = j.launch_type.map_or(UNKNOWN, |t| t.as_str()).to_string();
        Some(Observation(match ev {
            Event::Started(_) => {
                let wait = j.queue_wait()?;
                vec![(
                    SeriesKey::Wait(WaitLabels {
                        job_template_name: template,
                        organization,
                        job_type,
                        launch_type,
                    }),
                    wait,
                )]
            }
            Event::Finished(_) => {
                let labels = JobLabels {
                    status: j.status.map_or(UNKNOWN, |s| s.as_str()).to_string(),
                    job_template_name: template,
                    organization,
                    job_type,
                    launch_type,
                };
                let mut series = vec![(SeriesKey::Jobs(labels.clone()), 1.0)];
                if let Some(d) = j.duration() {
                    series.push((SeriesKey::Elapsed(labels), d));
                }
                series
            }
        }))
    }

    fn exists(&self, k: &SeriesKey) -> bool {
        match k {
            SeriesKey::Jobs(l) => self.jobs.get(l).is_some(),
            SeriesKey::Elapsed(l) => self.elapsed.get(l).is_some(),
            SeriesKey::Wait(l) => self.wait.get(l).is_some(),
        }
    }

    fn create(&self, k: &SeriesKey) {
        match k {
            SeriesKey::Jobs(l) => drop(self.jobs.get_or_create(l)),
            SeriesKey::Elapsed(l) => drop(self.elapsed.get_or_create(l)),
            SeriesKey::Wait(l) => drop(self.wait.get_or_create(l)),
        }
    }

    fn apply(&self, o: &Observation) {
        for (k, v) in &o.0 {
            match k {
                SeriesKey::Jobs(l) => {
                    self.jobs.get_or_create(l).inc();
                }
                SeriesKey::Elapsed(l) => self.elapsed.get_or_create(l).observe(*v),
                SeriesKey::Wait(l) => self.wait.get_or_create(l).observe(*v),
            }
        }
    }

    /// Whether a series may count: it exists and has been exposed at zero for the hold
    /// (series born at `now` were created during this scrape and are not exposed yet).
    fn settled(&self, k: &SeriesKey, now: Instant) -> bool {
        self.exists(k)
            && self
                .born
                .get(k)
                .is_none_or(|b| *b < now && now.duration_since(*b) >= self.opts.hold)
    }

    /// Records the events of one sync (after releasing what waited), as of `now`.
    pub fn record(&mut self, events: &[Event], names: &Interner, now: Instant) {
        self.release(now);
        for ev in events {
            if let Some(o) = self.observe(ev, names) {
                self.offer(o, now);
            }
        }
    }

    /// Counts an observation now if all its series have settled; otherwise creates the
    /// missing ones at zero and keeps it for a later scrape.
    fn offer(&mut self, o: Observation, now: Instant) {
        let mut wait = !self.pending.is_empty() && self.pending.iter().any(|p| overlaps(p, &o));
        for (k, _) in &o.0 {
            if !self.exists(k) {
                self.create(k);
                self.born.insert(k.clone(), now);
            }
            if !self.settled(k, now) {
                wait = true;
            }
        }
        if wait {
            self.pending.push(o);
        } else {
            self.apply(&o);
        }
    }

    /// Counts the observations whose series have settled, oldest first.
    pub fn release(&mut self, now: Instant) {
        let pending = std::mem::take(&mut self.pending);
        for o in pending {
            // An observation behind one still waiting on a shared series waits too, so
            // that each series counts in the order its jobs finished.
            let blocked = self.pending.iter().any(|p| overlaps(p, &o));
            if !blocked && o.0.iter().all(|(k, _)| self.settled(k, now)) {
                self.apply(&o);
            } else {
                self.pending.push(o);
            }
        }
        let hold = self.opts.hold;
        self.born
            .retain(|_, b| now.duration_since(*b) < hold || *b >= now);
    }

    /// Observations waiting for their series to settle.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn encode(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        match format {
            Format::PrometheusText => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)?
            }
        }
        Ok(out)
    }
}

fn overlaps(a: &Observation, b: &Observation) -> bool {
    a.0.iter().any(|(k, _)| b.0.iter().any(|(l, _)| k == l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use awx_datasource::awx::model::UnifiedJob;
    use awx_datasource::jobs::JobTable;

    fn table(rows: &[(i64, &str, &str, &str)]) -> JobTable {
        let rows: Vec<UnifiedJob> = rows
            .iter()
            .map(|(id, template, status, launch)| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "type": "job", "name": template, "status": status,
                    "launch_type": launch,
                    "created": "2024-10-01T00:00:00Z", "started": "2024-10-01T00:00:02.5Z",
                    "finished": "2024-10-01T00:01:00Z", "modified": "2024-10-01T00:01:00Z",
                    "elapsed": 57.5,
                    "summary_fields": {
                        "unified_job_template": {"id": id * 10, "name": template},
                        "organization": {"id": 1, "name": "Ops"}
                    },
                }))
                .unwrap()
            })
            .collect();
        JobTable::from_rows(&rows, 0)
    }

    fn events(t: &JobTable) -> Vec<Event> {
        t.jobs()
            .iter()
            .flat_map(|j| [Event::Started(*j), Event::Finished(*j)])
            .collect()
    }

    fn metrics(hold: Duration, max_templates: usize) -> Metrics {
        Metrics::new(
            Options {
                include_syncs: false,
                hold,
                max_templates,
            },
            1_700_000_000.0,
        )
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn a_new_series_shows_zero_for_one_scrape_then_its_count() {
        let t = table(&[
            (1, "Deploy", "failed", "manual"),
            (2, "Deploy", "failed", "manual"),
        ]);
        let mut m = metrics(Duration::ZERO, 10);
        let t0 = Instant::now();
        m.record(&events(&t), &t.names, t0);
        let first = m.encode(Format::PrometheusText).unwrap();
        let want = "awx_jobs_total{status=\"failed\",job_template_name=\"Deploy\",organization=\"Ops\",job_type=\"job\",launch_type=\"manual\"}";
        assert_eq!(line(&first, want), [format!("{want} 0").as_str()]);
        assert!(first.contains("awx_job_wait_seconds_count{job_template_name=\"Deploy\",organization=\"Ops\",job_type=\"job\",launch_type=\"manual\"} 0"), "{first}");
        assert_eq!(m.pending(), 4);
        m.record(&[], &t.names, t0 + Duration::from_millis(1));
        let second = m.encode(Format::PrometheusText).unwrap();
        assert_eq!(line(&second, want), [format!("{want} 2").as_str()]);
        assert!(second.contains("awx_job_elapsed_seconds_sum{status=\"failed\",job_template_name=\"Deploy\",organization=\"Ops\",job_type=\"job\",launch_type=\"manual\"} 115"), "{second}");
        assert!(second.contains("awx_job_wait_seconds_sum{job_template_name=\"Deploy\",organization=\"Ops\",job_type=\"job\",launch_type=\"manual\"} 5"), "{second}");
        assert!(
            second.contains("le=\"60.0\"} 2") || second.contains("le=\"60\"} 2"),
            "{second}"
        );
        assert_eq!(m.pending(), 0);
        // A settled series counts at once.
        let more = table(&[(3, "Deploy", "failed", "manual")]);
        m.record(&events(&more), &more.names, t0 + Duration::from_millis(2));
        let third = m.encode(Format::PrometheusText).unwrap();
        assert_eq!(line(&third, want), [format!("{want} 3").as_str()]);
    }

    #[test]
    fn the_hold_keeps_a_new_series_at_zero_for_its_duration() {
        let t = table(&[(1, "Deploy", "successful", "manual")]);
        let mut m = metrics(Duration::from_secs(30), 10);
        let t0 = Instant::now();
        m.record(&events(&t), &t.names, t0);
        m.release(t0 + Duration::from_secs(29));
        assert_eq!(m.pending(), 2);
        m.release(t0 + Duration::from_secs(30));
        assert_eq!(m.pending(), 0);
    }

    #[test]
    fn templates_beyond_the_limit_are_folded_and_syncs_left_out() {
        let t = table(&[
            (1, "A", "successful", "manual"),
            (2, "B", "successful", "manual"),
            (3, "C", "successful", "scheduled"),
            (4, "A", "failed", "manual"),
            (5, "Web Platform", "successful", "sync"),
        ]);
        let mut m = metrics(Duration::ZERO, 2);
        let t0 = Instant::now();
        m.record(&events(&t), &t.names, t0);
        m.release(t0 + Duration::from_millis(1));
        let text = m.encode(Format::PrometheusText).unwrap();
        let totals: Vec<&str> = line(&text, "awx_jobs_total{");
        assert_eq!(totals.len(), 4, "{text}");
        assert!(text.contains("job_template_name=\"(other)\",organization=\"Ops\",job_type=\"job\",launch_type=\"scheduled\"} 1"), "{text}");
        assert!(!text.contains("Web Platform"), "syncs are left out: {text}");
        assert_eq!(m.templates_admitted(), 2);
    }

    #[test]
    fn syncs_count_when_asked_to() {
        let t = table(&[(1, "Web Platform", "successful", "sync")]);
        let mut m = Metrics::new(
            Options {
                include_syncs: true,
                hold: Duration::ZERO,
                max_templates: 10,
            },
            0.0,
        );
        let t0 = Instant::now();
        m.record(&events(&t), &t.names, t0);
        m.release(t0 + Duration::from_millis(1));
        let text = m.encode(Format::PrometheusText).unwrap();
        assert!(
            text.contains("awx_jobs_total{status=\"successful\",job_template_name=\"Web Platform\",organization=\"Ops\",job_type=\"job\",launch_type=\"sync\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn both_formats_carry_the_same_families() {
        let t = table(&[(1, "Deploy", "successful", "manual")]);
        let mut m = metrics(Duration::ZERO, 10);
        m.record(&events(&t), &t.names, Instant::now());
        {
            let mut g = m.gauges();
            g.running = Some(3);
            g.pending = Some(1);
            g.capacity = Some(vec![("awx-exec-1".into(), "execution".into(), 12.0)]);
            g.last_sync = Some(1_700_000_001.5);
        }
        m.sync_failed();
        m.requests_sent(7);
        m.requests_sent(7);
        let text = m.encode(Format::PrometheusText).unwrap();
        let om = m.encode(Format::OpenMetrics).unwrap();
        for want in [
            "# TYPE awx_jobs_total counter",
            "# TYPE awx_job_elapsed_seconds histogram",
            "# TYPE awx_job_wait_seconds histogram",
            "awx_running_jobs 3",
            "awx_pending_jobs 1",
            "awx_capacity{hostname=\"awx-exec-1\",node_type=\"execution\"} 12",
            "awx_exporter_last_sync_timestamp_seconds 1700000001.5",
            "awx_exporter_start_time_seconds 1700000000",
            "awx_exporter_sync_errors_total 1",
            "awx_exporter_awx_requests_total 7",
        ] {
            assert!(text.contains(want), "text lacks {want}:\n{text}");
        }
        assert!(!text.contains("# EOF"));
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE awx_jobs counter"), "{om}");
        assert!(
            om.contains("# UNIT awx_job_elapsed_seconds seconds"),
            "{om}"
        );
        assert!(om.contains("awx_exporter_awx_requests_total 7"), "{om}");
    }

    #[test]
    fn label_values_are_escaped() {
        let t = table(&[(
            1,
            "Deploy \"API\", v2\\canary\nblue",
            "successful",
            "manual",
        )]);
        let mut m = metrics(Duration::ZERO, 10);
        m.record(&events(&t), &t.names, Instant::now());
        let text = m.encode(Format::PrometheusText).unwrap();
        assert!(
            text.contains(r#"job_template_name="Deploy \"API\", v2\\canary\nblue""#),
            "{text}"
        );
    }

    #[test]
    fn negotiation_follows_the_accept_header() {
        use Format::*;
        assert_eq!(Format::negotiate(None), PrometheusText);
        assert_eq!(Format::negotiate(Some("*/*")), PrometheusText);
        // Prometheus 2.x's header.
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")),
            OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4;q=1,*/*;q=0.1")),
            PrometheusText
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            PrometheusText
        );
        assert_eq!(Format::negotiate(Some("garbage,,;;")), PrometheusText);
    }
}
