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
//! [`PluginConfig`]: crate::plugin_config::PluginConfig

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, Weak};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::record::{disk, Interner, Job, Micros};
use super::store::BeforeCoverage;
use crate::settings::{AwxAuth, AwxSettings};

const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Ids per chunk (a power of two: a job's chunk is `id >> CHUNK_BITS`).
pub const CHUNK_BITS: u32 = 12;

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
/// sources on the same AWX with the same credentials): the newest to open it owns it,
/// and the writes of the others are dropped, so that no file ever mixes the jobs of one
/// table with the names of another. An owner's first write replaces everything.
#[derive(Debug, Clone)]
pub struct DiskCache {
    shared: Arc<Shared>,
    generation: u64,
}

#[derive(Debug)]
struct Shared {
    file: PathBuf,
    db: Arc<Database>,
    writes: Mutex<mpsc::Sender<(u64, Write)>>,
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
        shared.owner.store(generation, Ordering::Relaxed);
        Ok(Self { shared, generation })
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
        let writes = self.shared.writes.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writes.send((self.generation, w));
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
        let (writes, rx) = mpsc::channel::<(u64, Write)>();
        let (writer_db, writer_owner, writer_file) = (db.clone(), owner.clone(), file.clone());
        std::thread::Builder::new()
            .name("job-cache-writer".into())
            .spawn(move || {
                for (generation, w) in rx {
                    if generation != writer_owner.load(Ordering::Relaxed) {
                        continue;
                    }
                    if let Err(e) = write(&writer_db, w) {
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
