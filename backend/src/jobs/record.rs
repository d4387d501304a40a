//! The compact in-memory form of a job record. Strings (template, organization, node
//! names, ...) repeat across thousands of jobs, so they are interned once per data
//! source and each job holds 4-byte symbols. About 100 bytes per job (see
//! docs/ARCHITECTURE.md for the measured figure).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::awx::model::UnifiedJob;
use crate::query::{JobStatus, JobType, LaunchType};

/// An interned string; `Sym::NONE` stands for "not set" (null in AWX's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

impl Sym {
    pub const NONE: Sym = Sym(0);
}

/// The kinds of object a job refers to by name and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    Organization,
    Inventory,
    Project,
    InstanceGroup,
}

#[derive(Debug, Clone)]
pub struct Interner {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, Sym>,
    /// AWX ids of named objects, so filters may name them by id.
    ids: HashMap<(RefKind, i64), Sym>,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            names: vec![Arc::from("")],
            index: HashMap::new(),
            ids: HashMap::new(),
        }
    }
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return Sym::NONE;
        }
        if let Some(sym) = self.index.get(s) {
            return *sym;
        }
        let sym = Sym(self.names.len() as u32);
        let name: Arc<str> = Arc::from(s);
        self.names.push(name.clone());
        self.index.insert(name, sym);
        sym
    }

    fn intern_ref(&mut self, kind: RefKind, r: &Option<crate::awx::model::NamedRef>) -> Sym {
        let Some(r) = r else { return Sym::NONE };
        let sym = self.intern(&r.name);
        if let Some(id) = r.id {
            self.ids.insert((kind, id), sym);
        }
        sym
    }

    /// The name symbol of an object known by its AWX id.
    pub fn by_id(&self, kind: RefKind, id: i64) -> Option<Sym> {
        self.ids.get(&(kind, id)).copied()
    }

    /// Every interned name containing `needle` (case-insensitive).
    pub fn containing(&self, needle: &str) -> Vec<Sym> {
        let needle = needle.to_lowercase();
        self.names
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, n)| n.to_lowercase().contains(&needle))
            .map(|(i, _)| Sym(i as u32))
            .collect()
    }

    /// The symbol of a name if it was ever seen.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }

    pub fn resolve(&self, sym: Sym) -> Option<&str> {
        if sym == Sym::NONE {
            return None;
        }
        self.names.get(sym.0 as usize).map(|s| &**s)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.len() <= 1
    }
}

/// Microseconds since the epoch: AWX's timestamps have microsecond precision.
pub type Micros = i64;

pub fn micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

pub fn to_datetime(us: Micros) -> Option<DateTime<Utc>> {
    Utc.timestamp_micros(us).single()
}

/// An optional timestamp in 8 bytes (an `Option<i64>` takes 16): `i64::MIN` is "unset".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptMicros(i64);

impl OptMicros {
    pub const NONE: OptMicros = OptMicros(i64::MIN);

    pub fn new(v: Option<Micros>) -> Self {
        match v {
            Some(v) if v != i64::MIN => OptMicros(v),
            _ => Self::NONE,
        }
    }

    pub fn get(self) -> Option<Micros> {
        (self.0 != i64::MIN).then_some(self.0)
    }
}

/// Statuses and types AWX may add later are kept as `Other` and never counted as any
/// known status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    pub id: i64,
    pub created: Micros,
    started: OptMicros,
    finished: OptMicros,
    pub modified: Micros,
    /// Seconds, as AWX reports it (finished − started, 3 decimals).
    pub elapsed: f64,
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub launch_type: Option<LaunchType>,
    pub name: Sym,
    pub template: Sym,
    /// 0 when the job has no template (ad hoc commands).
    pub template_id: u32,
    pub organization: Sym,
    pub inventory: Sym,
    pub project: Sym,
    pub instance_group: Sym,
    pub execution_node: Sym,
    pub launched_by: Sym,
}

impl Job {
    pub fn from_api(j: &UnifiedJob, names: &mut Interner) -> Option<Job> {
        let created = micros(j.created?);
        let sf = &j.summary_fields;
        let template = sf.unified_job_template.as_ref();
        Some(Job {
            id: j.id,
            created,
            started: OptMicros::new(j.started.map(micros)),
            finished: OptMicros::new(j.finished.map(micros)),
            modified: j.modified.map(micros).unwrap_or(created),
            elapsed: j.elapsed.unwrap_or(0.0),
            status: JobStatus::parse(&j.status),
            job_type: JobType::parse(&j.job_type),
            launch_type: LaunchType::parse(&j.launch_type),
            name: names.intern(&j.name),
            template: names.intern(template.map(|t| t.name.as_str()).unwrap_or("")),
            template_id: template
                .and_then(|t| t.id)
                .and_then(|id| u32::try_from(id).ok())
                .unwrap_or(0),
            organization: names.intern_ref(RefKind::Organization, &sf.organization),
            inventory: names.intern_ref(RefKind::Inventory, &sf.inventory),
            project: names.intern_ref(RefKind::Project, &sf.project),
            instance_group: names.intern_ref(RefKind::InstanceGroup, &sf.instance_group),
            execution_node: names.intern(j.execution_node.as_deref().unwrap_or("")),
            launched_by: names.intern(j.launched_by.name.as_deref().unwrap_or("")),
        })
    }

    pub fn started(&self) -> Option<Micros> {
        self.started.get()
    }

    pub fn finished(&self) -> Option<Micros> {
        self.finished.get()
    }

    pub fn is_sync(&self) -> bool {
        self.launch_type == Some(LaunchType::Sync)
    }

    pub fn is_final(&self) -> bool {
        self.status.is_some_and(JobStatus::is_final)
    }

    /// `started − created` in seconds, for jobs that started.
    pub fn queue_wait(&self) -> Option<f64> {
        self.started().map(|s| (s - self.created) as f64 / 1e6)
    }

    /// Elapsed seconds, for jobs that have both `started` and `finished`.
    pub fn duration(&self) -> Option<f64> {
        match (self.started(), self.finished()) {
            (Some(_), Some(_)) => Some(self.elapsed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_fits_the_memory_budget() {
        // docs/ARCHITECTURE.md promises at most 128 bytes per cached job, all included.
        assert!(
            std::mem::size_of::<Job>() <= 96,
            "{}",
            std::mem::size_of::<Job>()
        );
    }

    #[test]
    fn interning_gives_one_symbol_per_name() {
        let mut i = Interner::default();
        let a = i.intern("Deploy");
        assert_eq!(i.intern("Deploy"), a);
        assert_eq!(i.intern(""), Sym::NONE);
        assert_eq!(i.resolve(a), Some("Deploy"));
        assert_eq!(i.resolve(Sym::NONE), None);
        assert_eq!(i.lookup("nope"), None);
    }
}
