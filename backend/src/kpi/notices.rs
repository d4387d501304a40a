//! Notices a KPI's helpers raise while a query runs (a partial answer from a cache still
//! filling, say), collected for the query and put on each of its frames: the code that
//! knows the reason need not know which frames the KPI builds.

use std::cell::RefCell;
use std::future::Future;

use crate::frame::{Frame, Notice, Severity};

tokio::task_local! {
    static NOTICES: RefCell<Vec<Notice>>;
}

/// Runs a query's future, then puts the notices raised during it on its frames.
pub async fn attach<E>(f: impl Future<Output = Result<Vec<Frame>, E>>) -> Result<Vec<Frame>, E> {
    NOTICES
        .scope(RefCell::new(Vec::new()), async {
            let mut frames = f.await?;
            let notices = NOTICES.with(|n| n.take());
            for frame in &mut frames {
                frame.meta.notices.extend(notices.iter().cloned());
            }
            Ok(frames)
        })
        .await
}

/// Raises a notice for the running query (none outside [`attach`]).
pub fn raise(severity: Severity, text: String) {
    let _ = NOTICES.try_with(|n| n.borrow_mut().push(Notice { severity, text }));
}
