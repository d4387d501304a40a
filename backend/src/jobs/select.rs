//! Which jobs a query counts: the contract's filters, compiled once per query against
//! the store's interned names, then tested on each job.

use std::collections::HashSet;

use super::record::{Interner, Job, RefKind, Sym};
use crate::query::{Filters, JobStatus, JobType, LaunchType};

/// One name filter: the symbols it accepts. An empty `Some` matches nothing (a name
/// AWX never sent), `None` means "no filter".
type SymSet = Option<HashSet<Sym>>;

#[derive(Debug, Default, Clone)]
pub struct Selection {
    include_syncs: bool,
    status: Option<Vec<JobStatus>>,
    job_type: Option<Vec<JobType>>,
    launch_type: Option<Vec<LaunchType>>,
    template: SymSet,
    template_ids: HashSet<u32>,
    organization: SymSet,
    inventory: SymSet,
    project: SymSet,
    instance_group: SymSet,
    execution_node: SymSet,
    launched_by: SymSet,
    name: SymSet,
    /// No filter but the sync rule (the usual dashboard): one test per job.
    unfiltered: bool,
}

fn non_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Names match exactly; a numeric value may also be the object's AWX id.
fn names(values: &[String], names: &Interner, kind: Option<RefKind>) -> SymSet {
    if values.is_empty() {
        return None;
    }
    let mut set = HashSet::new();
    for v in values {
        if let Some(s) = names.lookup(v) {
            set.insert(s);
        }
        if let (Some(kind), Ok(id)) = (kind, v.parse::<i64>()) {
            if let Some(s) = names.by_id(kind, id) {
                set.insert(s);
            }
        }
    }
    Some(set)
}

fn accepts(set: &SymSet, sym: Sym) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&sym))
}

impl Selection {
    pub fn compile(filters: &Filters, include_syncs: bool, interner: &Interner) -> Self {
        let template_ids = filters
            .template
            .iter()
            .filter_map(|v| v.parse::<u32>().ok())
            .collect();
        Selection {
            unfiltered: false,
            include_syncs: include_syncs || filters.launch_type.contains(&LaunchType::Sync),
            status: non_empty(&filters.status),
            job_type: non_empty(&filters.job_type),
            launch_type: non_empty(&filters.launch_type),
            template: names(&filters.template, interner, None),
            template_ids,
            organization: names(&filters.organization, interner, Some(RefKind::Organization)),
            inventory: names(&filters.inventory, interner, Some(RefKind::Inventory)),
            project: names(&filters.project, interner, Some(RefKind::Project)),
            instance_group: names(
                &filters.instance_group,
                interner,
                Some(RefKind::InstanceGroup),
            ),
            execution_node: names(&filters.execution_node, interner, None),
            launched_by: names(&filters.launched_by, interner, None),
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
            && self.template_ids.is_empty()
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
            && (accepts(&self.template, j.template) || self.template_ids.contains(&j.template_id))
            && accepts(&self.organization, j.organization)
            && accepts(&self.inventory, j.inventory)
            && accepts(&self.project, j.project)
            && accepts(&self.instance_group, j.instance_group)
            && accepts(&self.execution_node, j.execution_node)
            && accepts(&self.launched_by, j.launched_by)
            && accepts(&self.name, j.name)
    }
}
