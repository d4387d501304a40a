//! Job records: their compact form, the per-data-source cache that keeps them in sync
//! with AWX, and the selection of the jobs a query counts.

pub mod changes;
pub mod hosts;
pub mod persist;
pub mod record;
pub mod select;
pub mod store;

pub use changes::TimeKind;
pub use record::{Interner, Job, Micros, Ref, RefKind, Sym};
pub use select::Selection;
pub use store::{JobStore, JobTable, SyncReport};
