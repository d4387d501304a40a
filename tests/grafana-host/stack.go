package grafanahost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// PluginID is the id Grafana loads the plugin under (frontend/src/plugin.json).
const PluginID = "seed-awx-datasource"

// RepoRoot is the workspace root: the directory above tests/grafana-host.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "Cargo.toml")) && fileExists(filepath.Join(d, "tests", "grafana-host")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no workspace root (Cargo.toml beside tests/grafana-host) above %s", dir)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// HarnessConstants are the values the Rust end-to-end harness (tests/src/lib.rs) starts the
// simulator with; read from its source so that both harnesses stay on the same fixture.
type HarnessConstants struct {
	SimNow      time.Time
	AdminToken  string
	ViewerToken string
}

func ReadHarnessConstants(root string) (HarnessConstants, error) {
	var c HarnessConstants
	src, err := os.ReadFile(filepath.Join(root, "tests", "src", "lib.rs"))
	if err != nil {
		return c, err
	}
	get := func(name string) (string, error) {
		m := regexp.MustCompile(`pub const ` + name + `: &str = "([^"]*)";`).FindSubmatch(src)
		if m == nil {
			return "", fmt.Errorf("tests/src/lib.rs has no `pub const %s: &str`", name)
		}
		return string(m[1]), nil
	}
	now, err := get("SIM_NOW")
	if err != nil {
		return c, err
	}
	if c.SimNow, err = time.Parse(time.RFC3339, now); err != nil {
		return c, fmt.Errorf("SIM_NOW %q: %w", now, err)
	}
	if c.AdminToken, err = get("ADMIN_TOKEN"); err != nil {
		return c, err
	}
	if c.ViewerToken, err = get("VIEWER_TOKEN"); err != nil {
		return c, err
	}
	return c, nil
}

const pluginFromDist = "dist/, as scripts/package.sh --backend packages it"

// StaleAgainstSources names a backend source file newer than the binary ("" if none): a
// packaged plugin older than the code would be judged in the code's place.
func StaleAgainstSources(root, binary string) (string, error) {
	bin, err := os.Stat(binary)
	if err != nil {
		return "", err
	}
	newest, newestTime := "", bin.ModTime()
	check := func(path string, info os.FileInfo) {
		if info.ModTime().After(newestTime) {
			newest, newestTime = path, info.ModTime()
		}
	}
	for _, f := range []string{"Cargo.lock", "Cargo.toml"} {
		if info, err := os.Stat(filepath.Join(root, f)); err == nil {
			check(f, info)
		}
	}
	// The plugin is backend/ (sources, build script, protocol definitions), not its tests.
	err = filepath.Walk(filepath.Join(root, "backend"), func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && (info.Name() == "tests" || info.Name() == "benches" || info.Name() == "target") {
			return filepath.SkipDir
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(root, path)
			check(rel, info)
		}
		return nil
	})
	return newest, err
}

// Binaries are the programs under test and where each was found.
type Binaries struct {
	Plugin       string
	PluginSource string // how Plugin was chosen, for the report
	Sim          string
	Prometheus   string
}

// FindBinaries locates the packaged plugin (AWX_PLUGIN_BINARY, else dist/gpx_awx_linux_amd64 as
// scripts/package.sh writes it, else the cargo build), the simulator and Prometheus.
func FindBinaries(root string) (Binaries, error) {
	var b Binaries
	binDir := os.Getenv("AWX_E2E_BIN_DIR")
	if binDir == "" {
		target := os.Getenv("CARGO_TARGET_DIR")
		if target == "" {
			target = filepath.Join(root, "target")
		}
		binDir = filepath.Join(target, "debug")
	}
	switch {
	case os.Getenv("AWX_PLUGIN_BINARY") != "":
		b.Plugin, b.PluginSource = os.Getenv("AWX_PLUGIN_BINARY"), "AWX_PLUGIN_BINARY"
	case fileExists(filepath.Join(root, "dist", "gpx_awx_linux_amd64")):
		b.Plugin, b.PluginSource = filepath.Join(root, "dist", "gpx_awx_linux_amd64"), pluginFromDist
	default:
		b.Plugin, b.PluginSource = filepath.Join(binDir, "gpx_awx"), "cargo build (no dist/gpx_awx_linux_amd64)"
	}
	b.Sim = filepath.Join(binDir, "awx-sim")
	var missing []string
	for _, p := range []string{b.Plugin, b.Sim} {
		if !fileExists(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("missing %s: run `cargo build -p gpx_awx -p awx-sim` and `scripts/package.sh --backend` "+
			"(or set AWX_PLUGIN_BINARY and AWX_E2E_BIN_DIR)", strings.Join(missing, ", "))
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		return b, fmt.Errorf("no prometheus in PATH: apt-get install prometheus")
	}
	b.Prometheus = p
	return b, nil
}

// Proc is a child process started by the host (not the plugin, which go-plugin starts).
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *Proc) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func startProc(cmd *exec.Cmd) (*Proc, io.Reader, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, stdout, nil
}

// Sim is the AWX simulator on a loopback port, frozen at the harness's SIM_NOW.
type Sim struct {
	*Proc
	URL string
}

func StartSim(bin string, now time.Time, seed, days, jobsPerDay int) (*Sim, error) {
	cmd := exec.Command(bin,
		"--listen", "127.0.0.1:0", "--api-prefix", "both",
		"--seed", fmt.Sprint(seed), "--days", fmt.Sprint(days), "--jobs-per-day", fmt.Sprint(jobsPerDay),
		"--now", now.UTC().Format(time.RFC3339), "--frozen")
	cmd.Stderr = io.Discard
	proc, stdout, err := startProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("start awx-sim: %w", err)
	}
	// awx-sim prints one line with its URL once it listens; the rest of stdout is drained.
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line := <-lines:
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "http://") {
				return &Sim{Proc: proc, URL: strings.TrimRight(w, "/")}, nil
			}
		}
		proc.Stop()
		return nil, fmt.Errorf("awx-sim printed %q, expected its URL", line)
	case <-time.After(60 * time.Second):
		proc.Stop()
		return nil, errors.New("awx-sim printed no URL within 60 s")
	}
}

// TruthJob is one job of the simulator's ground truth (/_sim/truth/jobs).
type TruthJob struct {
	TemplateName *string    `json:"template_name"`
	Organization *string    `json:"organization"`
	Status       string     `json:"status"`
	LaunchType   string     `json:"launch_type"`
	Finished     *time.Time `json:"finished"`
}

func (s *Sim) Truth(ctx context.Context) ([]TruthJob, error) {
	var jobs []TruthJob
	err := getJSON(ctx, s.URL+"/_sim/truth/jobs", &jobs)
	return jobs, err
}

// TruthRun is one playbook run's failed and unreachable hosts
// (/_sim/truth/host_summaries?failed_only=true).
type TruthRun struct {
	Job      int64     `json:"job"`
	Finished time.Time `json:"finished"`
	Hosts    []struct {
		Name     string `json:"name"`
		Failures int    `json:"failures"`
		Dark     int    `json:"dark"`
	} `json:"hosts"`
}

// FailedHosts are the failed and unreachable hosts of the runs that finished in [from, to).
func (s *Sim) FailedHosts(ctx context.Context, from, to time.Time) ([]TruthRun, error) {
	var runs []TruthRun
	q := url.Values{}
	q.Set("from", from.UTC().Format(time.RFC3339Nano))
	q.Set("to", to.UTC().Format(time.RFC3339Nano))
	q.Set("failed_only", "true")
	err := getJSON(ctx, s.URL+"/_sim/truth/host_summaries?"+q.Encode(), &runs)
	return runs, err
}

func getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// FreePort is a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Prometheus is Debian's Prometheus scraping the simulator with the project's own scrape
// template (provisioning/prometheus), rendered by its render.sh as docker-compose does.
type Prometheus struct {
	*Proc
	URL string
	dir string
}

func StartPrometheus(ctx context.Context, root, bin, awxURL, token, scrapeInterval string) (*Prometheus, error) {
	dir, err := os.MkdirTemp("", "grafana-host-prom-")
	if err != nil {
		return nil, err
	}
	render := exec.CommandContext(ctx, "sh", filepath.Join(root, "provisioning", "prometheus", "render.sh"), filepath.Join(dir, "rendered"))
	render.Env = append(os.Environ(), "AWX_URL="+awxURL, "AWX_TOKEN="+token, "SCRAPE_INTERVAL="+scrapeInterval)
	out, err := render.Output()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("render.sh: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+strings.TrimSpace(string(out)),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	cmd.Stderr = io.Discard
	proc, stdout, err := startProc(cmd)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	p := &Prometheus{Proc: proc, URL: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("prometheus not ready within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitForSeries waits until an instant query returns at least one series.
func (p *Prometheus) WaitForSeries(ctx context.Context, promql string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var body struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		err := getJSON(ctx, p.URL+"/api/v1/query?query="+url.QueryEscape(promql), &body)
		if err == nil && len(body.Data.Result) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus has no series for %s after %s (last error: %v)", promql, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (p *Prometheus) Stop() {
	if p == nil {
		return
	}
	p.Proc.Stop()
	_ = os.RemoveAll(p.dir)
}
