//! The persistent job cache: a data source's job records on local disk, so that a plugin
//! restart (a Grafana upgrade, a crash) or a saved setting that keeps the same AWX and user
//! costs a warm refresh instead of a cold fill.
//!
//! One redb database per AWX and credentials (the file name is a SHA-256 of the API root
//! and the credentials, which are never stored), in `cache_dir` ([`PluginConfig`]),
//! readable by Grafana's user only. redb commits atomically (copy-on-write pages, a
//! checksummed commit slot): a crash or `kill -9` in the middle of a write leaves the
//! previous commit. Jobs are stored in chunks of 4,096 ids, so a refresh rewrites the few
//! chunks it changed (the newest, the purged) and a restart reads a few hundred values.
//! Writes happen on a thread of their own, in order, after the sync applied in memory:
//! a query never waits for the disk.
//!
//! The same file keeps the data source's settled job host summaries (`jobs/hosts.rs`): one
//! value per job id in their own table, the host directory in chunks of 4,096 hosts in
//! META (JSON), each written as it changes, by the same writer and under the same
//! ownership, so that a restart reads none of those lists from AWX again.
//!
//! [`PluginConfig`]: crate::plugin_config::PluginConfig

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, Weak};

use tokio::sync::oneshot;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::hosts::{self, HostInfo, JobHosts};
use super::record::{disk, Interner, Job, Micros};
use super::store::BeforeCoverage;
use crate::settings::{AwxAuth, AwxSettings};

const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// A job's hosts by job id, in [`hosts::disk`] form.
const HOSTS: TableDefinition<i64, &[u8]> = TableDefinition::new("job_hosts");
/// META's key of [`HostsMeta`], and the prefix of the host directory's chunks.
const HOSTS_META: &str = "hosts";
const HOST_DIR: &str = "host_dir/";

/// Ids per chunk (a power of two: a job's chunk is `id >> CHUNK_BITS`).
pub const CHUNK_BITS: u32 = 12;
/// Hosts per chunk of the host directory (an index's chunk is `index >> HOST_DIR_BITS`):
/// a new host rewrites the last chunk, not a directory of tens of thousands.
pub const HOST_DIR_BITS: u32 = 12;

#[derive(Debug, Error)]
pub enum PersistError {
    #[error("cannot use the cache directory {dir}: {reason}")]
    Dir { dir: PathBuf, reason: String },
    #[error("the persistent job cache {file}: {source}")]
    Db {
        file: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
}

/// What a sync leaves to write.
#[derive(Debug, Default)]
pub struct Write {
    /// Every chunk is replaced by `chunks` (a new fill), not only those listed.
    pub all: bool,
    /// (chunk, its jobs in [`disk`] form); empty bytes remove the chunk.
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// The names in [`disk`] form, when they changed.
    pub names: Option<Vec<u8>>,
    pub coverage_from: Micros,
    pub max_modified: Micros,
    pub before_coverage: Option<BeforeCoverage>,
}

/// A job's end and its hosts, as a write hands them over.
pub type HeldHosts = (Micros, Arc<JobHosts>);

/// What a load of job host summaries leaves to write.
#[derive(Debug, Default)]
pub struct HostsWrite {
    /// Every entry and the whole directory are replaced by what follows.
    pub all: bool,
    /// Entries of jobs below this id are removed.
    pub below: Option<i64>,
    /// (job, its end and hosts); `None` removes the job's entry. Encoded on the writer
    /// thread: the query that hands them over only clones the `Arc`s.
    pub jobs: Vec<(i64, Option<HeldHosts>)>,
    /// (chunk, its hosts) of the directory.
    pub directory: Vec<(u32, Vec<HostInfo>)>,
    /// The directory's length.
    pub hosts: usize,
}

/// The job host summaries as last written, as many as a budget holds.
#[derive(Debug, Default)]
pub struct HostsSnapshot {
    pub directory: Vec<HostInfo>,
    /// (job, its end, its hosts), newest first.
    pub jobs: Vec<(i64, Micros, JobHosts)>,
    /// Entries of jobs below this id were left out: the budget was full.
    pub left_below: Option<i64>,
    /// Jobs whose value was not readable.
    pub damaged: Vec<i64>,
}

#[derive(Serialize, Deserialize)]
struct HostsMeta {
    format: u32,
    /// The directory's length: its chunks must hold exactly as many hosts.
    hosts: usize,
}

/// What the writer thread is handed, with the generation of the handle that sent it.
enum Task {
    Jobs(Write),
    Hosts(HostsWrite),
    /// A read of the host summaries within a budget (bytes), answered on the writer thread
    /// so that it sees every write handed over before it.
    ReadHosts {
        budget: usize,
        reply: oneshot::Sender<Option<HostsSnapshot>>,
    },
}

/// A table as it was last written.
#[derive(Debug)]
pub struct Snapshot {
    pub jobs: Vec<Job>,
    pub names: Interner,
    pub coverage_from: Micros,
    pub max_modified: Micros,
    pub before_coverage: Option<BeforeCoverage>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    coverage_from: Micros,
    max_modified: Micros,
    /// Absent in files written before it existed: the first refresh counts it again.
    #[serde(default)]
    before_coverage: Option<BeforeCoverage>,
}

/// A data source's handle on its cache file. Several handles may share a file (an
/// instance rebuilt after a saved setting while the old one still answers; two data
/// sources on the same AWX with the same credentials): the newest to claim it
/// ([`DiskCache::claim`]) owns it, and the writes of the others are dropped, so that no
/// file ever mixes the jobs of one table with the names of another. An owner's first
/// write replaces everything.
#[derive(Debug, Clone)]
pub struct DiskCache {
    shared: Arc<Shared>,
    generation: u64,
}

#[derive(Debug)]
struct Shared {
    file: PathBuf,
    db: Arc<Database>,
    writes: Mutex<mpsc::Sender<(u64, Task)>>,
    owner: Arc<AtomicU64>,
}

type Registry = HashMap<PathBuf, Weak<Shared>>;
static OPEN: Mutex<Option<Registry>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The file name for an AWX and its credentials: the same AWX (URL and API path) and the
/// same credentials find the same file; nothing of the credentials can be read back.
pub fn key(awx: &AwxSettings) -> String {
    let mut h = Sha256::new();
    h.update(awx.api_root.as_str().as_bytes());
    match &awx.auth {
        AwxAuth::Token(t) => {
            h.update(b"\0token\0");
            h.update(t.expose().as_bytes());
        }
        AwxAuth::Basic { username, password } => {
            h.update(b"\0basic\0");
            h.update(username.as_bytes());
            h.update(b"\0");
            h.update(password.expose().as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl DiskCache {
    /// Opens (or creates) the cache file `<dir>/<key>.redb`, after making room under
    /// `max_bytes` by removing the least recently written other files.
    pub fn open(dir: &Path, key: &str, max_bytes: u64) -> Result<Self, PersistError> {
        let file = dir.join(format!("{key}.redb"));
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        let open = open.get_or_insert_with(HashMap::new);
        let shared = match open.get(&file).and_then(Weak::upgrade) {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(Shared::open(dir, file.clone(), max_bytes)?);
                open.insert(file, Arc::downgrade(&shared));
                shared
            }
        };
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        Ok(Self { shared, generation })
    }

    /// Makes this handle the file's owner: the others' writes are dropped from now on.
    /// Claimed when its data source instance is the one in use, not when opened: the
    /// panels of a dashboard build instances at once and all but the first are dropped
    /// unused, and one of those must not take the file from the instance that answers.
    pub fn claim(&self) {
        self.shared.owner.store(self.generation, Ordering::Relaxed);
    }

    pub fn file(&self) -> &Path {
        &self.shared.file
    }

    /// The table as last committed, or `None` (nothing written yet, another format, or
    /// anything unreadable: then the cache starts cold, as without a file).
    pub fn load(&self) -> Option<Snapshot> {
        match load(&self.shared.db) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(file = %self.file().display(), error = %e, "persistent job cache unreadable; starting cold");
                None
            }
        }
    }

    /// Hands a write to the writer thread (in order, after those before it).
    pub fn send(&self, w: Write) {
        self.task(Task::Jobs(w));
    }

    /// Hands a write of job host summaries to the writer thread, as [`DiskCache::send`].
    pub fn send_hosts(&self, w: HostsWrite) {
        self.task(Task::Hosts(w));
    }

    /// The job host summaries as last committed once the writes handed over before are,
    /// within `budget` bytes as the host store accounts them; `None` if there are none
    /// (never written, another format, or anything unreadable).
    pub async fn read_hosts(&self, budget: usize) -> Option<HostsSnapshot> {
        let (reply, answer) = oneshot::channel();
        self.task(Task::ReadHosts { budget, reply });
        // A writer thread that is gone drops the reply: no copy, as without a file.
        answer.await.ok().flatten()
    }

    fn task(&self, t: Task) {
        let writes = self.shared.writes.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writes.send((self.generation, t));
    }
}

impl Shared {
    fn open(dir: &Path, file: PathBuf, max_bytes: u64) -> Result<Self, PersistError> {
        let dir_err = |e: std::io::Error| PersistError::Dir {
            dir: dir.to_path_buf(),
            reason: e.to_string(),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(dir_err)?;
        evict_others(dir, &file, max_bytes);
        // Created readable by its owner only, before redb opens it.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&file)
            .map_err(dir_err)?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).map_err(dir_err)?;
        // A handle dropped a moment ago may still have its writer finishing.
        let mut tries = 0;
        let db = loop {
            match Database::create(&file) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(PersistError::Db {
                        file,
                        source: Box::new(e.into()),
                    })
                }
            }
        };
        let db = Arc::new(db);
        let owner = Arc::new(AtomicU64::new(0));
        let (writes, rx) = mpsc::channel::<(u64, Task)>();
        let (writer_db, writer_owner, writer_file) = (db.clone(), owner.clone(), file.clone());
        std::thread::Builder::new()
            .name("job-cache-writer".into())
            .spawn(move || {
                for (generation, task) in rx {
                    let written = match task {
                        // Reading changes nothing: any handle may.
                        Task::ReadHosts { budget, reply } => {
                            let read = load_hosts(&writer_db, budget).unwrap_or_else(|e| {
                                tracing::warn!(file = %writer_file.display(), error = %e, "persistent job cache: host summaries unreadable; reading them from AWX");
                                None
                            });
                            let _ = reply.send(read);
                            continue;
                        }
                        _ if generation != writer_owner.load(Ordering::Relaxed) => continue,
                        Task::Jobs(w) => write(&writer_db, w),
                        Task::Hosts(w) => write_hosts(&writer_db, w),
                    };
                    if let Err(e) = written {
                        tracing::warn!(file = %writer_file.display(), error = %e, "persistent job cache: write failed; the cache in memory goes on");
                    }
                }
            })
            .map_err(dir_err)?;
        Ok(Self {
            file,
            db,
            writes: Mutex::new(writes),
            owner,
        })
    }
}

// redb's error is large (160 bytes); these run once per write on the writer thread and
// once per store at start, never on a query's path.
#[allow(clippy::result_large_err)]
fn write(db: &Database, w: Write) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut chunks = txn.open_table(CHUNKS)?;
        if w.all {
            chunks.retain(|_, _| false)?;
        }
        for (k, bytes) in &w.chunks {
            if bytes.is_empty() {
                chunks.remove(k)?;
            } else {
                chunks.insert(k, bytes.as_slice())?;
            }
        }
        let mut meta = txn.open_table(META)?;
        if let Some(names) = &w.names {
            meta.insert("names", names.as_slice())?;
        }
        let m = Meta {
            format: disk::FORMAT,
            coverage_from: w.coverage_from,
            max_modified: w.max_modified,
            before_coverage: w.before_coverage,
        };
        let m = serde_json::to_vec(&m).unwrap_or_default();
        meta.insert("meta", m.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

#[allow(clippy::result_large_err)]
fn load(db: &Database) -> Result<Option<Snapshot>, redb::Error> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let get = |k: &str| -> Result<Option<Vec<u8>>, redb::Error> {
        Ok(meta.get(k)?.map(|v| v.value().to_vec()))
    };
    let (Some(m), Some(names)) = (get("meta")?, get("names")?) else {
        return Ok(None);
    };
    let Ok(m) = serde_json::from_slice::<Meta>(&m) else {
        return Ok(None);
    };
    let Some(names) = disk::read_names(&names) else {
        return Ok(None);
    };
    if m.format != disk::FORMAT {
        return Ok(None);
    }
    let chunks = txn.open_table(CHUNKS)?;
    let mut jobs = Vec::with_capacity(chunks.len()? as usize * (1 << CHUNK_BITS) / 2);
    for entry in chunks.iter()? {
        let (_, v) = entry?;
        if disk::read_jobs(v.value(), &names, &mut jobs).is_none() {
            return Ok(None);
        }
    }
    Ok(Some(Snapshot {
        jobs,
        names,
        coverage_from: m.coverage_from,
        max_modified: m.max_modified,
        before_coverage: m.before_coverage,
    }))
}

#[allow(clippy::result_large_err)]
fn write_hosts(db: &Database, w: HostsWrite) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(HOSTS)?;
        let mut meta = txn.open_table(META)?;
        if w.all {
            table.retain(|_, _| false)?;
            let old: Vec<String> = meta
                .range(HOST_DIR..)?
                .map(|e| e.map(|(k, _)| k.value().to_string()))
                .take_while(|k| k.as_ref().map_or(true, |k| k.starts_with(HOST_DIR)))
                .collect::<Result<_, _>>()?;
            for k in old {
                meta.remove(k.as_str())?;
            }
        }
        if let Some(below) = w.below {
            table.retain_in(..below, |_, _| false)?;
        }
        let mut bytes = Vec::new();
        for (job, held) in &w.jobs {
            match held {
                Some((finished, jh)) => {
                    bytes.clear();
                    hosts::disk::write(*finished, jh, &mut bytes);
                    table.insert(job, bytes.as_slice())?;
                }
                None => {
                    table.remove(job)?;
                }
            }
        }
        for (chunk, infos) in &w.directory {
            let key = format!("{HOST_DIR}{chunk}");
            meta.insert(key.as_str(), hosts::disk::write_directory(infos).as_slice())?;
        }
        let m = HostsMeta {
            format: disk::FORMAT,
            hosts: w.hosts,
        };
        let m = serde_json::to_vec(&m).unwrap_or_default();
        meta.insert(HOSTS_META, m.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// The host summaries newest first until `budget` is full, counting the directory first
/// (the host store's own accounting, so that it evicts nothing of what is read).
#[allow(clippy::result_large_err)]
fn load_hosts(db: &Database, budget: usize) -> Result<Option<HostsSnapshot>, redb::Error> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(m) = meta.get(HOSTS_META)? else {
        return Ok(None);
    };
    let Ok(m) = serde_json::from_slice::<HostsMeta>(m.value()) else {
        return Ok(None);
    };
    if m.format != disk::FORMAT {
        return Ok(None);
    }
    let per_chunk = 1usize << HOST_DIR_BITS;
    let mut directory: Vec<HostInfo> = Vec::new();
    for chunk in 0..m.hosts.div_ceil(per_chunk) {
        let Some(v) = meta.get(format!("{HOST_DIR}{chunk}").as_str())? else {
            return Ok(None);
        };
        let Some(infos) = hosts::disk::read_directory(v.value()) else {
            return Ok(None);
        };
        if infos.len() != per_chunk.min(m.hosts - chunk * per_chunk) {
            return Ok(None);
        }
        directory.extend(infos);
    }
    let mut s = HostsSnapshot::default();
    let mut bytes: usize = directory
        .iter()
        .map(|h| hosts::accounted_host(&h.name))
        .sum();
    let table = match txn.open_table(HOSTS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            s.directory = directory;
            return Ok(Some(s));
        }
        Err(e) => return Err(e.into()),
    };
    for entry in table.iter()?.rev() {
        let (job, v) = entry?;
        let job = job.value();
        let Some((finished, jh)) = hosts::disk::read(v.value(), directory.len()) else {
            s.damaged.push(job);
            continue;
        };
        bytes += hosts::accounted_job(jh.runs.len());
        if bytes > budget {
            s.left_below = Some(job.saturating_add(1));
            break;
        }
        s.jobs.push((job, finished, jh));
    }
    s.directory = directory;
    Ok(Some(s))
}

/// Removes the least recently written cache files but `keep` until the directory's
/// `.redb` files take at most `max_bytes`.
fn evict_others(dir: &Path, keep: &Path, max_bytes: u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "redb"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= max_bytes {
            break;
        }
        if path != keep && fs::remove_file(&path).is_ok() {
            tracing::info!(file = %path.display(), "persistent job cache: removed the least recently used file");
            total -= len;
        }
    }
}

/// The chunk of a job id.
pub fn chunk_of(id: i64) -> u64 {
    (id.max(0) as u64) >> CHUNK_BITS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awx::model::UnifiedJob;
    use crate::jobs::hosts::{HostRun, Scope};

    /// A cache directory of its own for a test, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("awx-persist-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn host(id: i64) -> HostInfo {
        HostInfo {
            id: Some(id),
            name: Arc::from(format!("host-{id}")),
        }
    }

    /// Job `job`'s failed hosts: `n` of them, from the directory's start.
    fn failed(job: i64, n: u32) -> (i64, Option<HeldHosts>) {
        let runs: Vec<HostRun> = (0..n)
            .map(|host| HostRun {
                host,
                ok: 2,
                changed: 0,
                failures: 1,
                dark: 0,
                skipped: job as u32,
            })
            .collect();
        let jh = JobHosts {
            scope: Scope::Failed,
            runs: runs.into_boxed_slice(),
        };
        (job, Some((job * 1_000, Arc::new(jh))))
    }

    fn ids(s: &HostsSnapshot) -> Vec<i64> {
        s.jobs.iter().map(|(j, _, _)| *j).collect()
    }

    #[tokio::test]
    async fn host_summaries_are_read_back_within_the_budget_and_damage_costs_only_itself() {
        let dir = Dir::new("hosts");
        let cache = DiskCache::open(&dir.0, "k", u64::MAX).unwrap();
        cache.claim();
        assert!(
            cache.read_hosts(usize::MAX).await.is_none(),
            "never written"
        );
        // A directory over two chunks; jobs 1..=5 with 3 failed hosts each.
        let directory: Vec<HostInfo> = (0..5000).map(host).collect();
        let w = HostsWrite {
            all: true,
            jobs: (1..=5).map(|j| failed(j, 3)).collect(),
            directory: vec![
                (0, directory[..4096].to_vec()),
                (1, directory[4096..].to_vec()),
            ],
            hosts: directory.len(),
            ..Default::default()
        };
        cache.send_hosts(w);
        let s = cache.read_hosts(usize::MAX).await.unwrap();
        assert_eq!(s.directory, directory);
        assert_eq!(ids(&s), [5, 4, 3, 2, 1], "newest first");
        let want = failed(4, 3).1.unwrap();
        assert_eq!((s.jobs[1].1, &s.jobs[1].2), (want.0, &*want.1));
        assert_eq!((s.left_below, s.damaged.len()), (None, 0));

        // The budget: the directory, then the newest jobs that fit.
        let dir_bytes: usize = directory
            .iter()
            .map(|h| hosts::accounted_host(&h.name))
            .sum();
        let budget = dir_bytes + 2 * hosts::accounted_job(3);
        let s = cache.read_hosts(budget).await.unwrap();
        assert_eq!(ids(&s), [5, 4]);
        assert_eq!(s.left_below, Some(4));

        // Incremental: one job replaced, one removed, the ones the read left out removed,
        // a host added to the last chunk.
        let mut last = directory[4096..].to_vec();
        last.push(host(9999));
        cache.send_hosts(HostsWrite {
            below: Some(2),
            jobs: vec![failed(4, 1), (3, None), failed(6, 2)],
            directory: vec![(1, last)],
            hosts: directory.len() + 1,
            ..Default::default()
        });
        let s = cache.read_hosts(usize::MAX).await.unwrap();
        assert_eq!(ids(&s), [6, 5, 4, 2]);
        assert_eq!(s.jobs[2].2.runs.len(), 1);
        assert_eq!(s.directory.len(), 5001);

        // A damaged value (a foreign writer, a bit flip): that job alone is left out, and
        // said, so that the store removes it.
        {
            let txn = cache.shared.db.begin_write().unwrap();
            txn.open_table(HOSTS)
                .unwrap()
                .insert(5, &b"\x09garbage"[..])
                .unwrap();
            txn.commit().unwrap();
        }
        let s = cache.read_hosts(usize::MAX).await.unwrap();
        assert_eq!(ids(&s), [6, 4, 2]);
        assert_eq!(s.damaged, [5]);

        // Everything anew: entries and directory chunks of before are gone.
        cache.send_hosts(HostsWrite {
            all: true,
            jobs: vec![failed(7, 1)],
            directory: vec![(0, vec![host(1)])],
            hosts: 1,
            ..Default::default()
        });
        let s = cache.read_hosts(usize::MAX).await.unwrap();
        assert_eq!((ids(&s), s.directory.len()), (vec![7], 1));
        {
            let txn = cache.shared.db.begin_read().unwrap();
            let meta = txn.open_table(META).unwrap();
            assert!(meta.get("host_dir/1").unwrap().is_none());
        }

        // A directory that does not add up (a chunk lost, or not what the meta says), or
        // another format: nothing is read.
        let damage = |key: &str, value: Option<&[u8]>| {
            let txn = cache.shared.db.begin_write().unwrap();
            {
                let mut meta = txn.open_table(META).unwrap();
                match value {
                    Some(v) => meta.insert(key, v).unwrap(),
                    None => meta.remove(key).unwrap(),
                };
            }
            txn.commit().unwrap();
        };
        damage("host_dir/0", Some(b"[[1, \"a\"], [2, \"b\"]]"));
        assert!(
            cache.read_hosts(usize::MAX).await.is_none(),
            "a longer chunk"
        );
        damage("host_dir/0", Some(b"not json"));
        assert!(cache.read_hosts(usize::MAX).await.is_none(), "not JSON");
        damage("host_dir/0", None);
        assert!(cache.read_hosts(usize::MAX).await.is_none(), "a chunk lost");
        damage("host_dir/0", Some(b"[[1, \"a\"]]"));
        assert!(cache.read_hosts(usize::MAX).await.is_some());
        let other = format!("{{\"format\": {}, \"hosts\": 1}}", disk::FORMAT + 1);
        damage(HOSTS_META, Some(other.as_bytes()));
        assert!(
            cache.read_hosts(usize::MAX).await.is_none(),
            "another format"
        );
    }

    #[tokio::test]
    async fn only_the_newest_handle_writes_host_summaries() {
        let dir = Dir::new("hosts-owner");
        let old = DiskCache::open(&dir.0, "k", u64::MAX).unwrap();
        old.claim();
        let one = |job| HostsWrite {
            jobs: vec![failed(job, 1)],
            directory: vec![(0, vec![host(1)])],
            hosts: 1,
            ..Default::default()
        };
        old.send_hosts(one(1));
        // A read is answered after the writes handed over before it: 1 is committed.
        assert_eq!(ids(&old.read_hosts(usize::MAX).await.unwrap()), [1]);
        let new = DiskCache::open(&dir.0, "k", u64::MAX).unwrap();
        // Opened, not claimed: the old handle still writes.
        old.send_hosts(one(4));
        assert_eq!(ids(&old.read_hosts(usize::MAX).await.unwrap()), [4, 1]);
        new.claim();
        // Handed over before the new handle claimed, written after: dropped all the same.
        old.send_hosts(one(2));
        new.send_hosts(one(3));
        let s = new.read_hosts(usize::MAX).await.unwrap();
        assert_eq!(ids(&s), [4, 3, 1]);
    }

    /// Where a restart's first answer goes at 1M jobs: reading the file, and building the
    /// table from it. Run it by name, release, with `--ignored --nocapture`.
    #[test]
    #[ignore = "a timing probe, not a test"]
    fn reading_a_million_jobs_back() {
        let row: UnifiedJob = serde_json::from_value(serde_json::json!({
            "id": 1, "type": "job", "name": "Deploy", "status": "successful",
            "launch_type": "scheduled", "created": "2026-11-01T00:00:00Z",
            "started": "2026-11-01T00:00:01Z", "finished": "2026-11-01T00:01:00Z",
            "modified": "2026-11-01T00:01:00Z", "elapsed": 59.0,
            "execution_node": "exec-1",
            "summary_fields": {"unified_job_template": {"id": 7, "name": "Deploy"},
                               "organization": {"id": 1, "name": "Default"}}
        }))
        .unwrap();
        let mut names = Interner::default();
        let one = Job::from_api(&row, &mut names).unwrap();
        let jobs: Vec<Job> = (1..=1_000_000)
            .map(|id| {
                let mut j = one;
                j.id = id;
                j.created += id * 2_000_000;
                j.modified += id * 2_000_000;
                j
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("awx-persist-probe-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let cache = DiskCache::open(&dir, "probe", u64::MAX).unwrap();
        cache.claim();
        let mut chunks: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
        for j in &jobs {
            disk::write_job(j, chunks.entry(chunk_of(j.id)).or_default());
        }
        write(
            &cache.shared.db,
            Write {
                all: true,
                chunks: chunks.into_iter().collect(),
                names: Some(disk::write_names(&names)),
                coverage_from: 0,
                max_modified: 0,
                before_coverage: None,
            },
        )
        .unwrap();
        let t = std::time::Instant::now();
        let s = cache.load().unwrap();
        let loaded = t.elapsed();
        let t = std::time::Instant::now();
        let table = super::super::store::JobTable::with_jobs(s.jobs, s.names, 0);
        let built = t.elapsed();
        eprintln!(
            "1M jobs: file {} MB, load {loaded:?}, table {built:?} ({} jobs)",
            fs::metadata(cache.file()).unwrap().len() >> 20,
            table.jobs().len()
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
