//! Spawning the real programs: the plugin binary, the AWX simulator and Prometheus, each
//! on a free loopback port, each killed when its handle drops.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use grafana_plugin_sdk::pluginv2::{
    data_client::DataClient, diagnostics_client::DiagnosticsClient, resource_client::ResourceClient,
};
use tonic::transport::Channel;

pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

static BUILD: Once = Once::new();

/// The directory holding `gpx_awx` and `awx-sim`: `AWX_E2E_BIN_DIR` if set (a directory with
/// both, such as a release build; a relative path counts from the workspace), else a debug
/// build of the two made here once per test process.
///
/// The fast inner loop (docs/ARCHITECTURE.md, Tests): build the two programs once, then run
/// single tests with `AWX_E2E_BIN_DIR=target/debug`, which starts no cargo at all.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AWX_E2E_BIN_DIR").filter(|d| !d.is_empty()) {
        let dir = workspace_dir().join(dir);
        for bin in ["gpx_awx", "awx-sim"] {
            assert!(
                dir.join(bin).is_file(),
                "AWX_E2E_BIN_DIR={}: there is no {bin} there; build it with \
                 `cargo build --workspace --bin gpx_awx --bin awx-sim` (target/debug), or unset \
                 AWX_E2E_BIN_DIR to have the tests build it",
                dir.display()
            );
        }
        return dir;
    }
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            // Only the two programs the tests spawn (linking the CLI and the benchmark as well
            // cost more than a short test), but with the whole workspace selected, as
            // `cargo test --workspace` selects it: features unify alike, so the two commands do
            // not rebuild each other's dependencies.
            .args([
                "build",
                "--workspace",
                "--bin",
                "gpx_awx",
                "--bin",
                "awx-sim",
            ])
            .current_dir(workspace_dir())
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "building the plugin and the simulator failed"
        );
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_dir().join("target"));
    target.join("debug")
}

/// Collects a child's output lines in the background.
fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
            s.push_str(&line);
            s.push('\n');
        }
    });
    buf
}

/// Reads the first stdout line within `timeout`, keeping the rest flowing.
fn first_line(child: &mut Child, timeout: Duration) -> Result<(String, Arc<Mutex<String>>)> {
    let stdout = child.stdout.take().context("stdout piped")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let rest = Arc::new(Mutex::new(String::new()));
    let sink = rest.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        for line in lines {
            let Ok(line) = line else { break };
            let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
            s.push_str(&line);
            s.push('\n');
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(Some(Ok(line))) => Ok((line, rest)),
        Ok(_) => bail!("the process closed stdout before printing its first line"),
        Err(_) => bail!("no first line on stdout within {timeout:?}"),
    }
}

/// The plugin, spawned as Grafana spawns it.
pub struct Plugin {
    child: Child,
    pub addr: String,
    /// How long the handshake line took from spawn.
    pub handshake: Duration,
    stderr: Arc<Mutex<String>>,
    stdout_rest: Arc<Mutex<String>>,
    channel: Channel,
}

impl Plugin {
    pub async fn spawn() -> Result<Self> {
        Self::spawn_binary(&bin_dir().join("gpx_awx"), &[]).await
    }

    pub async fn spawn_binary(path: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let started = Instant::now();
        let mut cmd = Command::new(path);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // What Grafana's go-plugin client sets.
            .env("grafana_plugin_type", "datasource")
            .env(
                "RUST_LOG",
                "debug,h2=info,hyper=info,tower=info,rustls=info",
            )
            // No persistent job cache unless a test asks for one (GF_PLUGIN_CACHE_DIR in
            // `env`): each test starts from what its own simulator holds.
            .env("GF_PLUGIN_CACHE_DIR", "off");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", path.display()))?;
        let stderr = collect(child.stderr.take().context("stderr")?);
        let (line, stdout_rest) = first_line(&mut child, Duration::from_secs(10))?;
        let handshake = started.elapsed();
        let parts: Vec<&str> = line.trim().split('|').collect();
        if parts.len() != 5
            || parts[0] != "1"
            || parts[1] != "2"
            || parts[2] != "tcp"
            || parts[4] != "grpc"
        {
            bail!("bad handshake line `{line}`");
        }
        let addr = parts[3].to_string();
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await
            .context("connect to the plugin")?;
        Ok(Self {
            child,
            addr,
            handshake,
            stderr,
            stdout_rest,
            channel,
        })
    }

    /// CheckHealth ("Save & test") for a data source.
    pub async fn check_health(
        &self,
        ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    ) -> Result<grafana_plugin_sdk::pluginv2::CheckHealthResponse> {
        Ok(self
            .diagnostics()
            .check_health(grafana_plugin_sdk::pluginv2::CheckHealthRequest {
                plugin_context: Some(crate::context(ds)),
                ..Default::default()
            })
            .await?
            .into_inner())
    }

    pub fn data(&self) -> DataClient<Channel> {
        DataClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }
    pub fn diagnostics(&self) -> DiagnosticsClient<Channel> {
        DiagnosticsClient::new(self.channel.clone())
    }
    pub fn resource(&self) -> ResourceClient<Channel> {
        ResourceClient::new(self.channel.clone())
    }
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Everything the plugin wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// Anything on stdout after the handshake (must stay empty).
    pub fn stdout_after_handshake(&self) -> String {
        self.stdout_rest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// The plugin's process id (for /proc/<pid>/status, e.g. its RSS).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Resident memory in KiB (VmRSS of /proc/<pid>/status), if readable.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// Waits up to `limit` for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("the plugin did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("the plugin did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub days: u32,
    pub jobs_per_day: u32,
    pub seed: u64,
    pub now: String,
    pub frozen: bool,
    pub extra: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            days: 10,
            jobs_per_day: 300,
            seed: 7,
            now: crate::SIM_NOW.to_string(),
            frozen: true,
            extra: Vec::new(),
        }
    }
}

/// The AWX simulator.
pub struct Sim {
    child: Child,
    pub url: String,
    pub http: reqwest::Client,
}

impl Sim {
    /// `days` of history at `jobs_per_day`, every other option the default (frozen at
    /// [`crate::SIM_NOW`]): what most tests start.
    pub async fn with_history(days: u32, jobs_per_day: u32) -> Result<Self> {
        Self::start(SimOptions {
            days,
            jobs_per_day,
            ..SimOptions::default()
        })
        .await
    }

    pub async fn start(opts: SimOptions) -> Result<Self> {
        let mut cmd = Command::new(bin_dir().join("awx-sim"));
        cmd.args(["--listen", "127.0.0.1:0", "--api-prefix", "both"])
            .args(["--seed", &opts.seed.to_string()])
            .args(["--days", &opts.days.to_string()])
            .args(["--jobs-per-day", &opts.jobs_per_day.to_string()])
            .args(["--now", &opts.now])
            .args(&opts.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if opts.frozen {
            cmd.arg("--frozen");
        }
        let mut child = cmd.spawn().context("spawn awx-sim")?;
        let (line, _) = first_line(&mut child, Duration::from_secs(60))?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .ok_or_else(|| anyhow!("awx-sim printed `{line}`, expected its URL"))?
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            child,
            url,
            http: reqwest::Client::new(),
        })
    }

    /// GET on the simulated AWX's API as its admin (`path` from `/api/v2/`, with its query).
    pub async fn api_json(&self, path_and_query: &str) -> Result<serde_json::Value> {
        let resp = self
            .http
            .get(format!("{}{path_and_query}", self.url))
            .bearer_auth(crate::ADMIN_TOKEN)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET {path_and_query}: HTTP {status}");
        }
        Ok(resp.json().await?)
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.http.get(format!("{}{path}", self.url)).send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}");
        }
        Ok(resp.json().await?)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("POST {path}: HTTP {}", resp.status());
        }
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.http
            .delete(format!("{}{path}", self.url))
            .send()
            .await?;
        Ok(())
    }

    /// The ground truth: every stored job, flat.
    pub async fn truth_jobs(&self) -> Result<Vec<crate::oracle::TruthJob>> {
        self.get_json("/_sim/truth/jobs").await
    }

    pub async fn stats(&self) -> Result<serde_json::Value> {
        self.get_json("/_sim/stats").await
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A real Prometheus (Debian's package) scraping the simulator's metrics with a bearer
/// token, as our users' setup guide does.
pub struct Prometheus {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Prometheus {
    /// `targets` are host:port of simulators; `scrape_interval` like "1s".
    pub async fn start(sim_hostport: &str, token: &str, scrape_interval: &str) -> Result<Self> {
        Self::start_with_history(sim_hostport, token, scrape_interval, None).await
    }

    /// Like [`Prometheus::start`], with a past: `history` is a file of OpenMetrics text
    /// (samples with timestamps) that promtool turns into TSDB blocks before Prometheus
    /// starts, as backfilling an installation's history would.
    pub async fn start_with_history(
        sim_hostport: &str,
        token: &str,
        scrape_interval: &str,
        history: Option<&Path>,
    ) -> Result<Self> {
        let dir = TempDir::new("awx-e2e-prom")?;
        let config = format!(
            "global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\nscrape_configs:\n  - job_name: awx\n    metrics_path: /api/v2/metrics/\n    scheme: http\n    authorization:\n      type: Bearer\n      credentials: {token}\n    static_configs:\n      - targets: ['{sim_hostport}']\n"
        );
        let cfg_path = dir.0.join("prometheus.yml");
        std::fs::write(&cfg_path, config)?;
        if let Some(input) = history {
            let out = Command::new("promtool")
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                // Day-long blocks, near what Prometheus's compaction makes of older data (18 h
                // with the default retention), rather than promtool's 2 h.
                .arg("--max-block-duration=24h")
                .arg(input)
                .arg(dir.0.join("data"))
                .output()
                .context("run promtool (apt-get install prometheus)")?;
            if !out.status.success() {
                bail!(
                    "promtool create-blocks-from failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Self::start_with_config(dir, &cfg_path).await
    }

    /// Prometheus from the project's own scrape template (provisioning/prometheus), rendered
    /// by its render.sh exactly as docker-compose.yml and scripts/dev.sh render it.
    pub async fn start_provisioned(
        awx_url: &str,
        token: &str,
        scrape_interval: &str,
    ) -> Result<Self> {
        let dir = TempDir::new("awx-e2e-prom")?;
        let script = workspace_dir().join("provisioning/prometheus/render.sh");
        let out = Command::new("sh")
            .arg(&script)
            .arg(dir.0.join("rendered"))
            .env("AWX_URL", awx_url)
            .env("AWX_TOKEN", token)
            .env("SCRAPE_INTERVAL", scrape_interval)
            .output()
            .context("run render.sh")?;
        if !out.status.success() {
            bail!("render.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let cfg_path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
        Self::start_with_config(dir, &cfg_path).await
    }

    async fn start_with_config(dir: TempDir, cfg_path: &Path) -> Result<Self> {
        let port = free_port()?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn prometheus (apt-get install prometheus)")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{url}/-/ready")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("prometheus not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            child,
            url,
            _dir: dir,
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static BUILD_KPI: Once = Once::new();

/// The `awx-kpi` binary (the CLI, whose `export` command is the exporter): in
/// `AWX_E2E_BIN_DIR` when it is there, else a debug build made here once per test process.
pub fn kpi_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("AWX_E2E_BIN_DIR").filter(|d| !d.is_empty()) {
        let bin = workspace_dir().join(dir).join("awx-kpi");
        if bin.is_file() {
            return bin;
        }
    }
    BUILD_KPI.call_once(|| {
        let status = Command::new(env!("CARGO"))
            // The whole workspace selected, as bin_dir() does, so features unify alike.
            .args(["build", "--workspace", "--bin", "awx-kpi"])
            .current_dir(workspace_dir())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building awx-kpi failed");
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_dir().join("target"));
    target.join("debug").join("awx-kpi")
}

/// `awx-kpi export` serving /metrics for one AWX.
pub struct Exporter {
    child: Child,
    /// host:port, as a Prometheus target.
    pub target: String,
    stderr: Arc<Mutex<String>>,
}

impl Exporter {
    /// Listens on `listen` (`127.0.0.1:0` for any port; a fixed one to restart it where
    /// Prometheus scrapes it), with `extra` flags after `export`.
    pub async fn start(awx_url: &str, token: &str, listen: &str, extra: &[&str]) -> Result<Self> {
        let mut child = Command::new(kpi_bin())
            .args(["export", "--listen", listen])
            .args(extra)
            .env("AWX_URL", awx_url)
            .env("AWX_TOKEN", token)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn awx-kpi export")?;
        let stderr = collect(child.stderr.take().context("stderr")?);
        let (line, _) = first_line(&mut child, Duration::from_secs(60))?;
        let target = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .and_then(|w| w.strip_suffix("/metrics"))
            .ok_or_else(|| anyhow!("awx-kpi export printed `{line}`, expected its URL"))?
            .to_string();
        Ok(Self {
            child,
            target,
            stderr,
        })
    }

    /// Everything it wrote to stderr (its log) so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// SIGTERM, then the exit status (a graceful stop).
    pub fn stop(&mut self) -> Result<std::process::ExitStatus> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("awx-kpi export did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Prometheus with a configuration of the caller's (scrape jobs, remote_write).
    pub async fn start_with_yaml(config: &str) -> Result<Self> {
        let dir = TempDir::new("awx-e2e-prom")?;
        let cfg_path = dir.0.join("prometheus.yml");
        std::fs::write(&cfg_path, config)?;
        Self::start_with_config(dir, &cfg_path).await
    }
}

/// A single-node VictoriaMetrics (Debian's `victoria-metrics` package): the query API of
/// its cluster version, fed by Prometheus's remote_write (`{url}/api/v1/write`) or by its
/// own scraping (`-promscrape.config`).
pub struct VictoriaMetrics {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

impl VictoriaMetrics {
    pub async fn start(extra: &[&str]) -> Result<Self> {
        let dir = TempDir::new("awx-e2e-vm")?;
        let port = free_port()?;
        let child = Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.0.join("data").display()))
            .arg("-retentionPeriod=1y")
            // Answer up to the newest sample (it hides the last 30 s by default) and from
            // the data, not from a cache of earlier answers.
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn victoria-metrics (apt-get install victoria-metrics)")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{url}/health")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("victoria-metrics not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            child,
            url,
            _dir: dir,
        })
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
