//! Which jobs a query counts: the contract's filters, compiled once per query against
//! the store's interned names, then tested on each job.

use std::collections::HashSet;

use super::record::{Interner, Job, Ref, RefKind, Sym};
use crate::model::{Filters, JobStatus, JobType, LaunchType};

/// One name filter: the symbols it accepts. An empty `Some` matches nothing (a name
/// AWX never sent), `None` means "no filter".
type SymSet = Option<HashSet<Sym>>;
/// One object filter: the objects (by their current names or ids) it accepts.
type RefSet = Option<HashSet<Ref>>;

#[derive(Debug, Default, Clone)]
pub struct Selection {
    include_syncs: bool,
    status: Option<Vec<JobStatus>>,
    job_type: Option<Vec<JobType>>,
    launch_type: Option<Vec<LaunchType>>,
    template: RefSet,
    organization: RefSet,
    inventory: RefSet,
    project: RefSet,
    instance_group: RefSet,
    execution_node: SymSet,
    launched_by: SymSet,
    name: SymSet,
    /// No filter but the sync rule (the usual dashboard): one test per job.
    unfiltered: bool,
}

fn non_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Names match exactly.
fn names(values: &[String], names: &Interner) -> SymSet {
    (!values.is_empty()).then(|| values.iter().filter_map(|v| names.lookup(v)).collect())
}

/// Objects match by their current name, or by AWX id when the value is a number.
fn objects(values: &[String], names: &Interner, kind: RefKind) -> RefSet {
    (!values.is_empty()).then(|| {
        values
            .iter()
            .flat_map(|v| names.objects_named(kind, v))
            .collect()
    })
}

fn accepts<T: Eq + std::hash::Hash>(set: &Option<HashSet<T>>, x: T) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&x))
}

impl Selection {
    pub fn compile(filters: &Filters, include_syncs: bool, interner: &Interner) -> Self {
        Selection {
            unfiltered: false,
            include_syncs: include_syncs || filters.launch_type.contains(&LaunchType::Sync),
            status: non_empty(&filters.status),
            job_type: non_empty(&filters.job_type),
            launch_type: non_empty(&filters.launch_type),
            template: objects(&filters.template, interner, RefKind::Template),
            organization: objects(&filters.organization, interner, RefKind::Organization),
            inventory: objects(&filters.inventory, interner, RefKind::Inventory),
            project: objects(&filters.project, interner, RefKind::Project),
            instance_group: objects(&filters.instance_group, interner, RefKind::InstanceGroup),
            execution_node: names(&filters.execution_node, interner),
            launched_by: names(&filters.launched_by, interner),
            name: (!filters.name.is_empty()).then(|| {
                filters
                    .name
                    .iter()
                    .flat_map(|n| interner.containing(n))
                    .collect()
            }),
        }
        .with_unfiltered()
    }

    fn with_unfiltered(mut self) -> Self {
        self.unfiltered = self.status.is_none()
            && self.job_type.is_none()
            && self.launch_type.is_none()
            && self.template.is_none()
            && self.organization.is_none()
            && self.inventory.is_none()
            && self.project.is_none()
            && self.instance_group.is_none()
            && self.execution_node.is_none()
            && self.launched_by.is_none()
            && self.name.is_none();
        self
    }

    /// The same selection without its status filter (status counts show every status).
    pub fn without_status(mut self) -> Self {
        self.status = None;
        self.with_unfiltered()
    }

    pub fn matches(&self, j: &Job) -> bool {
        if self.unfiltered {
            return self.include_syncs || !j.is_sync();
        }
        (self.include_syncs || !j.is_sync())
            && self
                .status
                .as_ref()
                .is_none_or(|s| j.status.is_some_and(|x| s.contains(&x)))
            && self
                .job_type
                .as_ref()
                .is_none_or(|s| j.job_type.is_some_and(|x| s.contains(&x)))
            && self
                .launch_type
                .as_ref()
                .is_none_or(|s| j.launch_type.is_some_and(|x| s.contains(&x)))
            && accepts(&self.template, j.template)
            && accepts(&self.organization, j.organization)
            && accepts(&self.inventory, j.inventory)
            && accepts(&self.project, j.project)
            && accepts(&self.instance_group, j.instance_group)
            && accepts(&self.execution_node, j.execution_node)
            && accepts(&self.launched_by, j.launched_by)
            && accepts(&self.name, j.name)
    }
}
