//! The domain: AWX's job statuses, types and launch types under the contract's names, and
//! the filters that select jobs. Shared by the query model (`query`), the job records
//! (`jobs`) and the KPIs, so that none of them reaches into another for it.

/// An enum whose variants have wire names (the contract's strings), with its list, its
/// parser and the list of valid names for error messages.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }

            /// The valid wire names, for error messages.
            pub fn valid() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// AWX's unified job statuses, in lifecycle order.
    JobStatus {
        New = "new",
        Pending = "pending",
        Waiting = "waiting",
        Running = "running",
        Successful = "successful",
        Failed = "failed",
        Error = "error",
        Canceled = "canceled",
    }
);

impl JobStatus {
    pub const FINAL: [JobStatus; 4] = [
        JobStatus::Successful,
        JobStatus::Failed,
        JobStatus::Error,
        JobStatus::Canceled,
    ];

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

string_enum!(JobType {
    Job = "job",
    WorkflowJob = "workflow_job",
    ProjectUpdate = "project_update",
    InventoryUpdate = "inventory_update",
    SystemJob = "system_job",
    AdHocCommand = "ad_hoc_command",
});

string_enum!(LaunchType {
    Manual = "manual",
    Relaunch = "relaunch",
    Callback = "callback",
    Scheduled = "scheduled",
    Dependency = "dependency",
    Workflow = "workflow",
    Webhook = "webhook",
    Sync = "sync",
    Scm = "scm",
});

/// The filters of the contract. Each is a list; empty means "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    pub organization: Vec<String>,
    pub template: Vec<String>,
    pub inventory: Vec<String>,
    pub project: Vec<String>,
    pub status: Vec<JobStatus>,
    pub job_type: Vec<JobType>,
    pub launch_type: Vec<LaunchType>,
    pub instance_group: Vec<String>,
    pub execution_node: Vec<String>,
    pub launched_by: Vec<String>,
    /// Substrings of the job name (any matches), case-insensitive.
    pub name: Vec<String>,
    /// Hosts by name or AWX id: only for the host query types.
    pub host: Vec<String>,
}
