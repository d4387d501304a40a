//! The compact in-memory form of a job record. Strings (node names, users, ...) repeat
//! across thousands of jobs, so they are interned once per data source and each job
//! holds 4-byte symbols. The objects a job belongs to (template, organization,
//! inventory, project, instance group) are held by AWX id, through [`Ref`]s: their names
//! are AWX's live joins (a rename shows on every job, old or new, without touching the
//! job), so a job never keeps a copy of them. About 100 bytes per job (see
//! docs/ARCHITECTURE.md for the measured figure).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::awx::model::UnifiedJob;
use crate::model::{JobStatus, JobType, LaunchType};

/// An interned string; `Sym::NONE` stands for "not set" (null in AWX's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

impl Sym {
    pub const NONE: Sym = Sym(0);
}

/// An AWX object a job belongs to, as an index into the [`Interner`]'s directory of
/// (kind, AWX id, current name); `Ref::NONE` when the job has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ref(pub u32);

impl Ref {
    pub const NONE: Ref = Ref(0);
}

/// The kinds of object a job refers to by id, each with the AWX list that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// Any unified job template: job and workflow templates, projects, inventory sources.
    Template,
    Organization,
    Inventory,
    Project,
    InstanceGroup,
}

impl RefKind {
    pub const ALL: [RefKind; 5] = [
        RefKind::Template,
        RefKind::Organization,
        RefKind::Inventory,
        RefKind::Project,
        RefKind::InstanceGroup,
    ];

    /// The AWX list of these objects (id and current name of each).
    pub fn list_path(self) -> &'static str {
        match self {
            RefKind::Template => "unified_job_templates/",
            RefKind::Organization => "organizations/",
            RefKind::Inventory => "inventories/",
            RefKind::Project => "projects/",
            RefKind::InstanceGroup => "instance_groups/",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RefEntry {
    kind: RefKind,
    id: i64,
    name: Sym,
}

#[derive(Debug, Clone)]
pub struct Interner {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, Sym>,
    /// The directory of objects, `refs[0]` standing for none.
    refs: Vec<RefEntry>,
    ref_index: HashMap<(RefKind, i64), Ref>,
    /// How many times an object's name changed: work kept between refreshes, which
    /// holds names, is void when this moves.
    renames: u64,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            names: vec![Arc::from("")],
            index: HashMap::new(),
            refs: vec![RefEntry {
                kind: RefKind::Template,
                id: 0,
                name: Sym::NONE,
            }],
            ref_index: HashMap::new(),
            renames: 0,
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

    /// A job's reference `(id, name)` from its `summary_fields`.
    fn intern_ref(&mut self, kind: RefKind, r: Option<(Option<i64>, &str)>) -> Ref {
        let Some((id, name)) = r else {
            return Ref::NONE;
        };
        // AWX always sends the id; without one, the name stands for the object.
        let id = id.unwrap_or_else(|| i64::MIN + i64::from(self.intern(name).0));
        self.name_object(kind, id, name)
    }

    /// Records the current name of an object (from a job's summary or AWX's list of
    /// such objects): every job that refers to it shows this name from now on.
    pub fn name_object(&mut self, kind: RefKind, id: i64, name: &str) -> Ref {
        let name = self.intern(name);
        if let Some(&r) = self.ref_index.get(&(kind, id)) {
            let entry = &mut self.refs[r.0 as usize];
            if entry.name != name {
                entry.name = name;
                self.renames += 1;
            }
            return r;
        }
        let r = Ref(self.refs.len() as u32);
        self.refs.push(RefEntry { kind, id, name });
        self.ref_index.insert((kind, id), r);
        r
    }

    /// The current name of an object.
    pub fn name_of(&self, r: Ref) -> Sym {
        self.refs.get(r.0 as usize).map_or(Sym::NONE, |e| e.name)
    }

    /// The AWX id of an object (none for [`Ref::NONE`]).
    pub fn id_of(&self, r: Ref) -> Option<i64> {
        (r != Ref::NONE)
            .then(|| self.refs.get(r.0 as usize).map(|e| e.id))
            .flatten()
    }

    /// The objects of a kind that a filter value names: by current name, or by AWX id
    /// when the value is a number.
    pub fn objects_named(&self, kind: RefKind, value: &str) -> impl Iterator<Item = Ref> + '_ {
        let name = self.lookup(value);
        let id = value.parse::<i64>().ok();
        self.refs
            .iter()
            .enumerate()
            .skip(1)
            .filter(move |(_, e)| e.kind == kind && (Some(e.name) == name || Some(e.id) == id))
            .map(|(i, _)| Ref(i as u32))
    }

    /// See [`Interner::renames`](Self): moves whenever an object's name changes.
    pub fn renames(&self) -> u64 {
        self.renames
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
    /// The job's own name, copied from its template at launch (not a live join).
    pub name: Sym,
    /// `Ref::NONE` when the job has no template (ad hoc commands).
    pub template: Ref,
    pub organization: Ref,
    pub inventory: Ref,
    pub project: Ref,
    pub instance_group: Ref,
    pub execution_node: Sym,
    pub launched_by: Sym,
}

fn named(r: &Option<crate::awx::model::NamedRef>) -> Option<(Option<i64>, &str)> {
    r.as_ref().map(|r| (r.id, r.name.as_str()))
}

impl Job {
    pub fn from_api(j: &UnifiedJob, names: &mut Interner) -> Option<Job> {
        let created = micros(j.created?);
        let sf = &j.summary_fields;
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
            template: names.intern_ref(
                RefKind::Template,
                sf.unified_job_template
                    .as_ref()
                    .map(|t| (t.id, t.name.as_str())),
            ),
            organization: names.intern_ref(RefKind::Organization, named(&sf.organization)),
            inventory: names.intern_ref(RefKind::Inventory, named(&sf.inventory)),
            project: names.intern_ref(RefKind::Project, named(&sf.project)),
            instance_group: names.intern_ref(RefKind::InstanceGroup, named(&sf.instance_group)),
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

/// The on-disk form of jobs and names (the persistent cache, `jobs/persist.rs`): jobs as
/// fixed-size little-endian records, names as JSON. Enums are stored by their wire name's
/// position in the contract's list, +1 (0: unknown); `FORMAT` changes with any of it.
pub mod disk {
    use serde::{Deserialize, Serialize};

    use super::*;

    pub const FORMAT: u32 = 1;
    pub const JOB_BYTES: usize = 6 * 8 + 3 + 8 * 4;

    fn code<T: Copy + PartialEq>(v: Option<T>, all: &[T]) -> u8 {
        v.and_then(|v| all.iter().position(|x| *x == v))
            .map_or(0, |i| i as u8 + 1)
    }

    fn decode<T: Copy>(c: u8, all: &[T]) -> Option<T> {
        (c as usize)
            .checked_sub(1)
            .and_then(|i| all.get(i).copied())
    }

    pub fn write_job(j: &Job, out: &mut Vec<u8>) {
        for v in [j.id, j.created, j.started.0, j.finished.0, j.modified] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&j.elapsed.to_le_bytes());
        out.push(code(j.status, JobStatus::ALL));
        out.push(code(j.job_type, JobType::ALL));
        out.push(code(j.launch_type, LaunchType::ALL));
        for v in [j.name.0, j.template.0, j.organization.0, j.inventory.0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            j.project.0,
            j.instance_group.0,
            j.execution_node.0,
            j.launched_by.0,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// Jobs from [`write_job`]'s bytes; `None` if the bytes are not whole records or
    /// refer to names the interner does not have (a damaged or foreign file).
    pub fn read_jobs(bytes: &[u8], names: &Interner, out: &mut Vec<Job>) -> Option<()> {
        if !bytes.len().is_multiple_of(JOB_BYTES) {
            return None;
        }
        for r in bytes.chunks_exact(JOB_BYTES) {
            let i64_at =
                |k: usize| i64::from_le_bytes(r[k * 8..k * 8 + 8].try_into().unwrap_or_default());
            let u32_at = |k: usize| {
                let at = 51 + k * 4;
                u32::from_le_bytes(r[at..at + 4].try_into().unwrap_or_default())
            };
            let sym =
                |k: usize| Some(Sym(u32_at(k))).filter(|s| (s.0 as usize) < names.names.len());
            let obj = |k: usize| Some(Ref(u32_at(k))).filter(|o| (o.0 as usize) < names.refs.len());
            out.push(Job {
                id: i64_at(0),
                created: i64_at(1),
                started: OptMicros(i64_at(2)),
                finished: OptMicros(i64_at(3)),
                modified: i64_at(4),
                elapsed: f64::from_le_bytes(r[40..48].try_into().unwrap_or_default()),
                status: decode(r[48], JobStatus::ALL),
                job_type: decode(r[49], JobType::ALL),
                launch_type: decode(r[50], LaunchType::ALL),
                name: sym(0)?,
                template: obj(1)?,
                organization: obj(2)?,
                inventory: obj(3)?,
                project: obj(4)?,
                instance_group: obj(5)?,
                execution_node: sym(6)?,
                launched_by: sym(7)?,
            });
        }
        Some(())
    }

    #[derive(Serialize, Deserialize)]
    struct Names {
        names: Vec<String>,
        /// (kind, AWX id, name symbol) per object, the first standing for none.
        refs: Vec<(u8, i64, u32)>,
    }

    pub fn write_names(names: &Interner) -> Vec<u8> {
        let n = Names {
            names: names.names.iter().map(|s| s.to_string()).collect(),
            refs: names
                .refs
                .iter()
                .map(|e| (code(Some(e.kind), &RefKind::ALL), e.id, e.name.0))
                .collect(),
        };
        serde_json::to_vec(&n).unwrap_or_default()
    }

    pub fn read_names(bytes: &[u8]) -> Option<Interner> {
        let n: Names = serde_json::from_slice(bytes).ok()?;
        if n.names.first().map(String::as_str) != Some("") || n.refs.is_empty() {
            return None;
        }
        let mut i = Interner::default();
        for name in &n.names[1..] {
            if i.intern(name).0 as usize != i.names.len() - 1 {
                return None; // a name twice: not what an interner writes
            }
        }
        for (kind, id, name) in n.refs.into_iter().skip(1) {
            let kind = decode(kind, &RefKind::ALL)?;
            if name as usize >= i.names.len() || i.ref_index.contains_key(&(kind, id)) {
                return None;
            }
            let r = Ref(i.refs.len() as u32);
            i.refs.push(RefEntry {
                kind,
                id,
                name: Sym(name),
            });
            i.ref_index.insert((kind, id), r);
        }
        Some(i)
    }

    /// Whether the directory or the names grew or changed since `mark`.
    pub fn names_mark(names: &Interner) -> (usize, usize, u64) {
        (names.names.len(), names.refs.len(), names.renames)
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

    #[test]
    fn jobs_and_names_survive_the_disk_form() {
        let row: UnifiedJob = serde_json::from_value(serde_json::json!({
            "id": 42, "type": "job", "name": "Deploy", "status": "failed",
            "launch_type": "scheduled", "created": "2026-11-01T00:00:00Z",
            "started": "2026-11-01T00:00:01.5Z", "finished": null,
            "modified": "2026-11-01T00:00:02Z", "elapsed": 0.0,
            "execution_node": "exec-1",
            "summary_fields": {"unified_job_template": {"id": 7, "name": "Deploy"},
                               "organization": {"id": 1, "name": "Default"}}
        }))
        .unwrap();
        let mut names = Interner::default();
        let job = Job::from_api(&row, &mut names).unwrap();
        names.name_object(RefKind::Project, 3, "Playbooks");
        let mut bytes = Vec::new();
        disk::write_job(&job, &mut bytes);
        assert_eq!(bytes.len(), disk::JOB_BYTES);
        let names2 = disk::read_names(&disk::write_names(&names)).unwrap();
        let mut jobs = Vec::new();
        disk::read_jobs(&bytes, &names2, &mut jobs).unwrap();
        assert_eq!(jobs, [job]);
        assert_eq!(
            names2.resolve(names2.name_of(jobs[0].template)),
            Some("Deploy")
        );
        assert_eq!(names2.objects_named(RefKind::Project, "3").count(), 1);
        // Damaged: a cut record, or a symbol the names do not have.
        assert!(disk::read_jobs(&bytes[1..], &names2, &mut jobs).is_none());
        assert!(disk::read_jobs(&bytes, &Interner::default(), &mut jobs).is_none());
        assert!(disk::read_names(b"{}").is_none());
    }

    #[test]
    fn an_object_renamed_in_awx_shows_its_new_name_on_every_job() {
        let mut i = Interner::default();
        let old = i.name_object(RefKind::Template, 7, "Deploy");
        let other = i.name_object(RefKind::Template, 8, "Deploy");
        assert_ne!(old, other, "two templates of one name stay two objects");
        assert_eq!(i.renames(), 0);
        let again = i.name_object(RefKind::Template, 7, "Deploy web");
        assert_eq!(again, old);
        assert_eq!(i.resolve(i.name_of(old)), Some("Deploy web"));
        assert_eq!(i.renames(), 1);
        let named: Vec<Ref> = i.objects_named(RefKind::Template, "Deploy").collect();
        assert_eq!(named, [other]);
        let by_id: Vec<Ref> = i.objects_named(RefKind::Template, "7").collect();
        assert_eq!(by_id, [old]);
        assert_eq!(i.objects_named(RefKind::Project, "7").count(), 0);
        assert_eq!(i.id_of(old), Some(7));
        assert_eq!(i.id_of(Ref::NONE), None);
    }
}
