package grafanahost

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// stack is everything the host runs: the simulator, Prometheus scraping it, and the plugin
// launched the way Grafana launches it, with the data source Grafana would provision.
type stack struct {
	root      string
	consts    HarnessConstants
	bins      Binaries
	sim       *Sim
	prom      *Prometheus
	promSince time.Time
	plugin    *Plugin
	ds        DataSource
	version   string
	// secrets are the credentials handed to the plugin; seen collects every error message
	// and frame the plugin answered, to prove none of them carries a secret.
	secrets []string
	seen    SyncBuffer
	truth   []TruthJob
}

const (
	simSeed       = 7
	simDays       = 10
	simJobsPerDay = 300
	// wrongToken is what a data source with bad credentials sends; it is a secret too.
	wrongToken = "grafana-host-wrong-token-5f2c9a"
)

func (s *stack) start(ctx context.Context, t *testing.T) {
	var err error
	if s.root, err = RepoRoot(); err != nil {
		t.Fatal(err)
	}
	if s.consts, err = ReadHarnessConstants(s.root); err != nil {
		t.Fatal(err)
	}
	if s.bins, err = FindBinaries(s.root); err != nil {
		t.Fatal(err)
	}
	if s.version, err = workspaceVersion(s.root); err != nil {
		t.Fatal(err)
	}
	s.secrets = []string{s.consts.AdminToken, s.consts.ViewerToken, wrongToken}
	t.Logf("plugin binary: %s (%s)", s.bins.Plugin, s.bins.PluginSource)
	tally.Lock()
	tally.plugin = fmt.Sprintf("%s (%s)", s.bins.Plugin, s.bins.PluginSource)
	tally.Unlock()
	if s.sim, err = StartSim(s.bins.Sim, s.consts.SimNow, simSeed, simDays, simJobsPerDay); err != nil {
		t.Fatal(err)
	}
	if s.truth, err = s.sim.Truth(ctx); err != nil {
		t.Fatal(err)
	}
	if s.prom, err = StartPrometheus(ctx, s.root, s.bins.Prometheus, s.sim.URL, s.consts.AdminToken, "1s"); err != nil {
		t.Fatal(err)
	}
	if err = s.prom.WaitForSeries(ctx, `awx_instance_capacity{job="awx"}`, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	s.promSince = time.Now()
	// Range queries over the last minutes need a few scrapes, not just the first one.
	time.Sleep(3 * time.Second)
	// The settings an operator puts in grafana.ini's [plugin.seed-awx-datasource] section.
	env := PluginEnv(map[string]string{"log_level": "debug"})
	if s.plugin, err = LaunchPlugin(s.bins.Plugin, env); err != nil {
		t.Fatal(err)
	}
	s.plugin.Version = s.version
	s.ds, err = ProvisionedDataSource(filepath.Join(s.root, "provisioning", "datasources", "awx.yml"), map[string]string{
		"AWX_URL":             s.sim.URL,
		"AWX_TOKEN":           s.consts.AdminToken,
		"AWX_API_PATH":        "/api/v2/",
		"AWX_UI_URL":          "",
		"AWX_TLS_SKIP_VERIFY": "false",
		"PROMETHEUS_URL":      s.prom.URL,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

func (s *stack) stop() {
	if s.plugin != nil && !s.plugin.Exited() {
		s.plugin.Kill()
	}
	s.prom.Stop()
	if s.sim != nil {
		s.sim.Stop()
	}
}

func workspaceVersion(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "Cargo.toml"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"`).FindSubmatch(raw)
	if m == nil {
		return "", fmt.Errorf("Cargo.toml has no [workspace.package] version")
	}
	return string(m[1]), nil
}

// query sends queries for a user (panels, variables) or the alerting engine and records what
// came back for the secrets check.
func (s *stack) query(ctx context.Context, t *testing.T, ds DataSource, caller Caller, qs ...Query) *backend.QueryDataResponse {
	t.Helper()
	resp, err := s.plugin.QueryData(ctx, ds, caller, qs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Responses {
		if r.Error != nil {
			s.seen.Write([]byte(r.Error.Error() + "\n"))
		}
		for _, f := range r.Frames {
			if b, err := json.Marshal(f); err == nil {
				s.seen.Write(b)
			}
		}
	}
	return resp
}

// isPrometheus says whether a query model is answered from Prometheus (with Prometheus
// configured, as the provisioned data source has it): its times are real, not the simulator's.
func isPrometheus(model map[string]any) bool {
	qt, _ := model["queryType"].(string)
	src, _ := model["source"].(string)
	switch {
	case qt == "promql" || src == "prometheus":
		return true
	case (qt == "active_jobs" || qt == "capacity") && (src == "" || src == "auto"):
		return true
	}
	return false
}

// now is the evaluation time of a query: the simulator's frozen clock for API queries, the
// real clock for Prometheus (which has scraped only the last minutes).
func (s *stack) now(model map[string]any) time.Time {
	if isPrometheus(model) {
		return time.Now()
	}
	return s.consts.SimNow
}

func okResponse(t *testing.T, resp *backend.QueryDataResponse, refID string) backend.DataResponse {
	t.Helper()
	r, found := resp.Responses[refID]
	if !found {
		t.Fatalf("no response for refId %s", refID)
	}
	if r.Error != nil {
		t.Fatalf("refId %s failed (status %d, errorSource %q): %v", refID, r.Status, r.ErrorSource, r.Error)
	}
	if r.Status != backend.StatusOK {
		t.Fatalf("refId %s: status %d, want 200", refID, r.Status)
	}
	for i, f := range r.Frames {
		if f.RefID != refID {
			t.Errorf("frame %d carries refId %q, want %q", i, f.RefID, refID)
		}
		if _, err := f.RowLen(); err != nil {
			t.Errorf("frame %d: %v", i, err)
		}
	}
	return r
}

func TestGrafanaHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := &stack{}
	defer s.stop()
	if !check(t, "stack starts (simulator, Prometheus, plugin through go-plugin)", func(t *testing.T) { s.start(ctx, t) }) {
		return
	}
	t.Run("protocol", func(t *testing.T) { s.protocolChecks(ctx, t) })
	t.Run("query types", func(t *testing.T) { s.queryTypeChecks(ctx, t) })
	t.Run("alertable KPIs", func(t *testing.T) { s.alertableChecks(ctx, t) })
	t.Run("alerting defaults", func(t *testing.T) { s.alertingDefaultsChecks(ctx, t) })
	t.Run("dashboards", func(t *testing.T) { s.dashboardChecks(ctx, t) })
	t.Run("alert rules", func(t *testing.T) { s.ruleChecks(ctx, t) })
	t.Run("per-query errors", func(t *testing.T) { s.errorChecks(ctx, t) })
	t.Run("lifecycle", func(t *testing.T) { s.lifecycleChecks(ctx, t) })
	t.Run("logs", func(t *testing.T) { s.logChecks(t) })
}

func (s *stack) protocolChecks(ctx context.Context, t *testing.T) {
	if s.bins.PluginSource == pluginFromDist {
		check(t, "dist/ holds a plugin built from the current backend sources", func(t *testing.T) {
			if stale, err := StaleAgainstSources(s.root, s.bins.Plugin); err != nil {
				t.Fatal(err)
			} else if stale != "" {
				t.Fatalf("%s is older than %s: run scripts/package.sh --backend (or set AWX_PLUGIN_BINARY)", s.bins.Plugin, stale)
			}
		})
	}
	check(t, "health check OK against the simulator and Prometheus", func(t *testing.T) {
		var last *backend.CheckHealthResult
		for i := 0; i < 50; i++ {
			res, err := s.plugin.CheckHealth(ctx, s.ds)
			if err != nil {
				t.Fatal(err)
			}
			if last = res; res.Status == backend.HealthStatusOk {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("health %s: %s", last.Status, last.Message)
	})
	check(t, "resource lookup/template answers a JSON list", func(t *testing.T) {
		status, body, err := s.plugin.CallResource(ctx, s.ds, "lookup/template", "")
		if err != nil {
			t.Fatal(err)
		}
		var values []any
		if status != 200 || json.Unmarshal(body, &values) != nil || len(values) == 0 {
			t.Fatalf("status %d, body %.200s", status, body)
		}
	})
	check(t, "resource: unknown route is a 404 with a JSON error", func(t *testing.T) {
		status, body, err := s.plugin.CallResource(ctx, s.ds, "no/such/route", "")
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		if status != 404 || json.Unmarshal(body, &e) != nil || e["error"] == nil {
			t.Fatalf("status %d, body %.200s", status, body)
		}
	})
}

// typeCase is one query of the contract and what its first frame must hold.
type typeCase struct {
	name   string
	model  map[string]any
	fields []string // field names the contract promises
	series bool     // a time field first
}

func contractCases() []typeCase {
	m := func(kv ...any) map[string]any {
		out := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	cases := []typeCase{
		{"job_status_counts api", m("queryType", "job_status_counts", "source", "api"), []string{"status", "count"}, false},
		{"job_status_counts prometheus", m("queryType", "job_status_counts", "source", "prometheus"), []string{"status", "count"}, false},
		{"job_throughput", m("queryType", "job_throughput"), nil, true},
		{"failure_rate", m("queryType", "failure_rate"), []string{"failure_rate", "failures", "finished"}, true},
		{"job_duration", m("queryType", "job_duration", "stats", []any{"p50", "p95", "max"}), nil, true},
		{"queue_wait", m("queryType", "queue_wait", "stats", []any{"mean", "p95", "max"}), nil, true},
		{"active_jobs api", m("queryType", "active_jobs", "source", "api"), []string{"pending", "waiting", "running"}, true},
		{"active_jobs prometheus", m("queryType", "active_jobs", "source", "prometheus"), []string{"pending", "waiting", "running"}, true},
		{"capacity api", m("queryType", "capacity", "source", "api"), nil, false},
		{"capacity prometheus", m("queryType", "capacity", "source", "prometheus"), nil, true},
		{"instances", m("queryType", "instances"), []string{"hostname", "node_type", "node_state", "enabled", "capacity", "consumed", "used", "jobs_running", "jobs_total", "cpu", "memory", "version", "last_health_check", "errors"}, false},
		{"templates", m("queryType", "templates"), []string{"template", "type", "organization", "runs", "successful", "failed", "canceled", "failure_rate", "mean_duration", "p95_duration", "mean_queue_wait", "last_run", "last_status", "link"}, false},
		{"jobs", m("queryType", "jobs"), []string{"id", "name", "type", "status", "template", "organization", "inventory", "project", "launched_by", "launch_type", "created", "started", "finished", "elapsed", "queue_wait", "execution_node", "instance_group", "link"}, false},
		{"system api", m("queryType", "system", "source", "api"), []string{"version", "active_node", "ha", "instances", "organizations", "templates", "hosts", "license_type"}, false},
		{"system prometheus", m("queryType", "system", "source", "prometheus"), []string{"version"}, false},
		{"promql", m("queryType", "promql", "expr", `awx_status_total{job="awx"}`), nil, true},
		{"promql instant", m("queryType", "promql", "expr", `awx_status_total{job="awx"}`, "instant", true), nil, false},
		{"annotations", m("queryType", "annotations"), []string{"time", "timeEnd", "title", "text", "tags"}, false},
		{"host_outcomes", m("queryType", "host_outcomes"), []string{"host", "inventory", "jobs", "failed", "unreachable", "changed", "ok", "failure_rate", "last_failure", "last_failure_job", "last_failure_template", "enabled", "has_active_failures", "link", "host_link"}, false},
		{"host_outcomes all by template", m("queryType", "host_outcomes", "hostSummaries", "all", "groupBy", "template"), []string{"host", "template", "inventory", "jobs", "failed", "unreachable", "changed", "ok", "failure_rate"}, false},
		{"host_failures", m("queryType", "host_failures"), []string{"failed", "unreachable"}, true},
		{"jobs with host counts", m("queryType", "jobs", "hostSummaries", "failed"), []string{"id", "status", "hosts_ok", "hosts_changed", "hosts_failed", "hosts_unreachable"}, false},
	}
	for _, k := range []string{"organization", "template", "inventory", "project", "instanceGroup", "instance", "executionNode", "status", "jobType", "launchType"} {
		cases = append(cases, typeCase{"lookup " + k, m("queryType", "lookup", "lookup", k), []string{"text", "value"}, false})
	}
	return cases
}

// docExamples are the complete queries docs/QUERIES.md shows, template variables set to All.
func (s *stack) docExamples() ([]typeCase, error) {
	raw, err := os.ReadFile(filepath.Join(s.root, "docs", "QUERIES.md"))
	if err != nil {
		return nil, err
	}
	var out []typeCase
	blocks := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllSubmatch(raw, -1)
	for i, b := range blocks {
		var model map[string]any
		if err := json.Unmarshal(b[1], &model); err != nil {
			return nil, fmt.Errorf("QUERIES.md json block %d: %w", i+1, err)
		}
		if model["queryType"] == nil {
			continue
		}
		iv, err := Interpolate(model, map[string]*string{"template": nil, "organization": nil})
		if err != nil {
			return nil, fmt.Errorf("QUERIES.md json block %d: %w", i+1, err)
		}
		out = append(out, typeCase{name: fmt.Sprintf("QUERIES.md example %d (%s)", i+1, model["queryType"]), model: iv.(map[string]any)})
	}
	if len(out) < 14 {
		return nil, fmt.Errorf("QUERIES.md shows %d complete queries, expected one per query type", len(out))
	}
	return out, nil
}

func (s *stack) typeQuery(c typeCase, refID string) Query {
	now := s.now(c.model)
	span, interval := 24*time.Hour, time.Hour
	if isPrometheus(c.model) {
		span, interval = 2*time.Minute, time.Second
	}
	return Query{RefID: refID, Model: c.model, From: now.Add(-span), To: now, Interval: interval, MaxDataPoints: 1000}
}

func (s *stack) queryTypeChecks(ctx context.Context, t *testing.T) {
	docs, err := s.docExamples()
	check(t, "docs/QUERIES.md examples parse", func(t *testing.T) {
		if err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range append(contractCases(), docs...) {
		check(t, c.name, func(t *testing.T) {
			resp := s.query(ctx, t, s.ds, UserCaller, s.typeQuery(c, "A"))
			r := okResponse(t, resp, "A")
			if len(r.Frames) == 0 {
				t.Fatal("no frame")
			}
			f := r.Frames[0]
			if c.series {
				if len(f.Fields) == 0 || (f.Fields[0].Type() != data.FieldTypeTime && f.Fields[0].Type() != data.FieldTypeNullableTime) {
					t.Errorf("a time series whose first field is not a time: %s", fieldList(f))
				}
				if len(f.TypeIndices(data.NumericFieldTypes()...)) == 0 {
					t.Errorf("a time series without number fields: %s", fieldList(f))
				}
			}
			for _, want := range c.fields {
				if fl, _ := f.FieldByName(want); fl == nil {
					t.Errorf("no field %q in %s", want, fieldList(f))
				}
			}
		})
	}
}

func fieldList(f *data.Frame) string {
	var parts []string
	for _, fl := range f.Fields {
		parts = append(parts, fmt.Sprintf("%s:%s%s", fl.Name, fl.Type(), fl.Labels))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// numericKPIs are the queries alert rules can watch: every numeric KPI, from each source.
func numericKPIs() []typeCase {
	m := func(kv ...any) map[string]any {
		out := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	return []typeCase{
		{name: "job_status_counts api", model: m("queryType", "job_status_counts", "source", "api")},
		{name: "job_status_counts prometheus", model: m("queryType", "job_status_counts", "source", "prometheus")},
		{name: "job_throughput", model: m("queryType", "job_throughput")},
		{name: "job_throughput by template", model: m("queryType", "job_throughput", "groupBy", "template")},
		{name: "failure_rate", model: m("queryType", "failure_rate")},
		{name: "failure_rate by template", model: m("queryType", "failure_rate", "groupBy", "template")},
		{name: "job_duration", model: m("queryType", "job_duration")},
		{name: "job_duration p95 by template", model: m("queryType", "job_duration", "groupBy", "template", "stats", []any{"p95"})},
		{name: "queue_wait", model: m("queryType", "queue_wait", "stats", []any{"mean", "p95", "max", "count"})},
		{name: "queue_wait by organization", model: m("queryType", "queue_wait", "groupBy", "organization")},
		{name: "active_jobs api", model: m("queryType", "active_jobs", "source", "api")},
		{name: "active_jobs prometheus", model: m("queryType", "active_jobs", "source", "prometheus")},
		{name: "capacity api", model: m("queryType", "capacity", "source", "api")},
		{name: "capacity prometheus", model: m("queryType", "capacity", "source", "prometheus")},
		{name: "promql", model: m("queryType", "promql", "expr", `awx_status_total{job="awx"}`)},
		{name: "promql sum by hostname", model: m("queryType", "promql", "expr", `sum by (hostname) (awx_instance_consumed_capacity{job="awx"})`)},
		{name: "promql instant", model: m("queryType", "promql", "expr", `awx_status_total{job="awx"}`, "instant", true)},
		{name: "host_failures", model: m("queryType", "host_failures")},
		{name: "host_failures by host", model: m("queryType", "host_failures", "groupBy", "host")},
		{name: "host_failures unreachable by template", model: m("queryType", "host_failures", "groupBy", "template", "outcomes", []any{"unreachable"})},
	}
}

// judgeAlertable reads frames as Grafana's alerting does and says what would stop a rule.
func judgeAlertable(frames data.Frames) (Conversion, []string) {
	var problems []string
	if len(frames) > 0 && frames[0] != nil && (frames[0].Meta == nil || frames[0].Meta.Type == "" || frames[0].Meta.TypeVersion.IsZero()) {
		problems = append(problems, "no dataplane meta.type with typeVersion: Grafana has to guess the frame's shape")
	}
	conv, err := Convert(frames)
	if err != nil {
		return conv, append(problems, fmt.Sprintf("Grafana's expression engine rejects the answer (%s): %v", conv.Path, err))
	}
	problems = append(problems, conv.Findings...)
	if dups := DuplicateLabels(conv.Results.Values); len(dups) > 0 {
		problems = append(problems, "values share a label set, so alerting cannot tell them apart: "+strings.Join(dups, ", "))
	}
	hasValue := false
	for _, v := range conv.Results.Values {
		switch x := v.(type) {
		case Number:
			hasValue = hasValue || x.Value != nil
		case Series:
			for _, p := range x.Values {
				hasValue = hasValue || p != nil
			}
		}
	}
	if !hasValue {
		problems = append(problems, fmt.Sprintf("no value at all (%s): %s", conv.Path, Describe(conv.Results.Values)))
	}
	return conv, problems
}

func (s *stack) alertableChecks(ctx context.Context, t *testing.T) {
	for _, c := range numericKPIs() {
		check(t, c.name, func(t *testing.T) {
			q := s.typeQuery(c, "A")
			resp := s.query(ctx, t, s.ds, AlertingCaller, q)
			r := okResponse(t, resp, "A")
			conv, problems := judgeAlertable(r.Frames)
			for _, p := range problems {
				t.Error(p)
			}
			t.Logf("read as %s: %s", conv.Path, Describe(conv.Results.Values))
		})
	}
}

// alertingDefaultsChecks asks every API time series the way a rule without intervalMs asks
// it (Grafana alerting's defaults: 1 s, at most 43200 points) over a day, more one-second
// buckets than that: the answer may widen its buckets only as far as maxDataPoints needs, or
// must say in a notice that it did.
func (s *stack) alertingDefaultsChecks(ctx context.Context, t *testing.T) {
	const maxDP = 43200
	span := 24 * time.Hour
	kpis := []string{"job_throughput", "failure_rate", "job_duration", "queue_wait", "active_jobs", "host_failures"}
	var throughputSum float64
	for _, qt := range kpis {
		check(t, qt+" over a day at intervalMs 1000, maxDataPoints 43200", func(t *testing.T) {
			model := map[string]any{"queryType": qt, "source": "api"}
			q := Query{RefID: "A", Model: model, From: s.consts.SimNow.Add(-span), To: s.consts.SimNow, Interval: time.Second, MaxDataPoints: maxDP}
			resp := s.query(ctx, t, s.ds, AlertingCaller, q)
			r := okResponse(t, resp, "A")
			if len(r.Frames) == 0 || len(r.Frames[0].Fields) == 0 {
				t.Fatal("no frame")
			}
			f := r.Frames[0]
			times := timesOf(f.Fields[0])
			if len(times) < 2 {
				t.Fatalf("%d buckets", len(times))
			}
			if len(times) > maxDP {
				t.Errorf("%d buckets, more than maxDataPoints %d", len(times), maxDP)
			}
			width := times[1].Sub(times[0])
			// The narrowest whole-millisecond width that keeps the day within maxDataPoints
			// aligned buckets (alignment may add one), with a tenth of slack for rounding up.
			need := time.Duration(math.Ceil(float64(span.Milliseconds())/float64(maxDP-1))) * time.Millisecond
			t.Logf("%d buckets of %s (narrowest fitting: %s), notice: %t", len(times), width, need, hasNotice(f))
			if width > need+need/10 && !hasNotice(f) {
				t.Errorf("buckets of %s where %s fit maxDataPoints %d, and no notice says why (%d buckets)", width, need, maxDP, len(times))
			}
			if qt == "job_throughput" {
				throughputSum = sumNumbers(f)
			}
		})
	}
	check(t, "job_throughput over a day counts the same jobs at 1 s and at 1 h", func(t *testing.T) {
		model := map[string]any{"queryType": "job_throughput", "source": "api"}
		q := Query{RefID: "A", Model: model, From: s.consts.SimNow.Add(-span), To: s.consts.SimNow, Interval: time.Hour, MaxDataPoints: maxDP}
		r := okResponse(t, s.query(ctx, t, s.ds, AlertingCaller, q), "A")
		if len(r.Frames) == 0 {
			t.Fatal("no frame")
		}
		hourly := sumNumbers(r.Frames[0])
		if hourly == 0 || hourly != throughputSum {
			t.Fatalf("hourly buckets count %v jobs, the alerting-default buckets %v", hourly, throughputSum)
		}
	})
}

func timesOf(f *data.Field) []time.Time {
	var out []time.Time
	for i := 0; i < f.Len(); i++ {
		switch v := f.At(i).(type) {
		case time.Time:
			out = append(out, v)
		case *time.Time:
			if v != nil {
				out = append(out, *v)
			}
		}
	}
	return out
}

// widening is what a notice about wider buckets than asked for talks of.
var widening = regexp.MustCompile(`(?i)bucket|interval|maxDataPoints|data points|widen`)

// hasNotice says whether the frame tells its reader that its buckets are wider than asked.
func hasNotice(f *data.Frame) bool {
	if f.Meta == nil {
		return false
	}
	for _, n := range f.Meta.Notices {
		if widening.MatchString(n.Text) {
			return true
		}
	}
	return false
}

func sumNumbers(f *data.Frame) float64 {
	var sum float64
	for _, fl := range f.Fields {
		if !fl.Type().Numeric() {
			continue
		}
		for i := 0; i < fl.Len(); i++ {
			if v, err := fl.NullableFloatAt(i); err == nil && v != nil {
				sum += *v
			}
		}
	}
	return sum
}

// busiest is the offered value that most jobs carry, as a user picking a template would.
func (s *stack) busiest(offered []string) string {
	counts := map[string]int{}
	for _, j := range s.truth {
		for _, v := range []*string{j.TemplateName, j.Organization} {
			if v != nil {
				counts[*v]++
			}
		}
	}
	best := ""
	for _, o := range offered {
		if best == "" || counts[o] > counts[best] {
			best = o
		}
	}
	return best
}

// autoInterval is Grafana's panel interval: the range over the points the panel can show,
// rounded to a readable step, never below the panel's minimum interval.
func autoInterval(span time.Duration, maxDP int64, min string) (time.Duration, error) {
	raw := span / time.Duration(maxDP)
	steps := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	interval := steps[len(steps)-1]
	for _, st := range steps {
		if st >= raw {
			interval = st
			break
		}
	}
	if min != "" {
		m, err := ParseGrafanaDuration(min)
		if err != nil {
			return 0, fmt.Errorf("panel interval %q: %w", min, err)
		}
		if m > interval {
			interval = m
		}
	}
	return interval, nil
}

func (s *stack) dashboardChecks(ctx context.Context, t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(s.root, "dashboards", "*.json"))
	sort.Strings(files)
	check(t, "dashboards/ holds the shipped dashboards", func(t *testing.T) {
		if len(files) < 2 {
			t.Fatalf("%d dashboards", len(files))
		}
	})
	const maxDP = 1000
	for _, file := range files {
		name := filepath.Base(file)
		raw, err := os.ReadFile(file)
		var d Dashboard
		if err == nil {
			d, err = ParseDashboard(raw)
		}
		if !check(t, name+" parses", func(t *testing.T) {
			if err != nil {
				t.Fatal(err)
			}
		}) {
			continue
		}
		vars := map[string]*string{}
		for _, v := range d.Variables {
			switch v.Type {
			case "datasource":
				ds := s.ds.UID
				vars[v.Name] = &ds
			case "textbox":
				// What the user typed, or a link set; empty (the default) means every value,
				// as the frontend drops empty entries.
				if typed, _ := v.Query.(string); typed != "" {
					vars[v.Name] = &typed
				} else {
					vars[v.Name] = nil
				}
			case "query":
				check(t, fmt.Sprintf("%s variable $%s", name, v.Name), func(t *testing.T) {
					iv, err := Interpolate(v.Query, vars)
					if err != nil {
						t.Fatal(err)
					}
					model, ok := iv.(map[string]any)
					if !ok || model["queryType"] != "lookup" {
						t.Fatalf("not a lookup query: %v", v.Query)
					}
					q := Query{RefID: "var", Model: model, From: s.consts.SimNow.Add(-7 * 24 * time.Hour), To: s.consts.SimNow, Interval: 10 * time.Minute, MaxDataPoints: maxDP}
					r := okResponse(t, s.query(ctx, t, s.ds, UserCaller, q), "var")
					if len(r.Frames) == 0 {
						t.Fatal("no frame")
					}
					values, _ := r.Frames[0].FieldByName("value")
					if values == nil {
						t.Fatalf("no value field: %s", fieldList(r.Frames[0]))
					}
					var offered []string
					for i := 0; i < values.Len(); i++ {
						if c, ok := values.ConcreteAt(i); ok {
							offered = append(offered, fmt.Sprint(c))
						}
					}
					if len(offered) == 0 {
						t.Fatal("the variable offers no value")
					}
					// A multi-value variable runs as All; a single one takes the busiest value.
					if !v.IncludeAll {
						b := s.busiest(offered)
						vars[v.Name] = &b
					}
				})
				if _, set := vars[v.Name]; !set {
					vars[v.Name] = nil
				}
			}
		}
		for _, dq := range d.Queries {
			check(t, name+" "+dq.Where, func(t *testing.T) {
				iv, err := Interpolate(dq.Target, vars)
				if err != nil {
					t.Fatal(err)
				}
				model := iv.(map[string]any)
				delete(model, "datasource")
				if qt, _ := model["queryType"].(string); qt == "" {
					t.Fatalf("no queryType in %v", dq.Target)
				}
				now, span := s.consts.SimNow, 7*24*time.Hour
				if isPrometheus(model) {
					now, span = time.Now(), 5*time.Minute
				}
				interval, err := autoInterval(span, maxDP, dq.Interval)
				if err != nil {
					t.Fatal(err)
				}
				q := Query{RefID: "A", Model: model, From: now.Add(-span), To: now, Interval: interval, MaxDataPoints: maxDP}
				r := okResponse(t, s.query(ctx, t, s.ds, UserCaller, q), "A")
				if len(r.Frames) == 0 {
					t.Fatal("no frame")
				}
				if !dq.Annotation && r.Frames[0].Rows() == 0 {
					t.Errorf("an empty panel: %s", fieldList(r.Frames[0]))
				}
			})
		}
	}
}

func (s *stack) errorChecks(ctx context.Context, t *testing.T) {
	good := Query{RefID: "good-api", Model: map[string]any{"queryType": "job_status_counts", "source": "api"},
		From: s.consts.SimNow.Add(-time.Hour), To: s.consts.SimNow, Interval: time.Minute, MaxDataPoints: 1000}
	goodProm := Query{RefID: "good-prom", Model: map[string]any{"queryType": "promql", "expr": `awx_pending_jobs_total{job="awx"}`},
		From: time.Now().Add(-time.Minute), To: time.Now(), Interval: time.Second, MaxDataPoints: 1000}
	badType := Query{RefID: "bad-type", Model: map[string]any{"queryType": "no_such_type"},
		From: s.consts.SimNow.Add(-time.Hour), To: s.consts.SimNow, Interval: time.Minute, MaxDataPoints: 1000}
	badFilter := Query{RefID: "bad-filter", Model: map[string]any{"queryType": "job_throughput", "filters": map[string]any{"status": []any{"runing"}}},
		From: s.consts.SimNow.Add(-time.Hour), To: s.consts.SimNow, Interval: time.Minute, MaxDataPoints: 1000}

	wantError := func(t *testing.T, resp *backend.QueryDataResponse, refID string, statuses []backend.Status, mention string) {
		t.Helper()
		r, found := resp.Responses[refID]
		if !found {
			t.Fatalf("no response for %s", refID)
		}
		if r.Error == nil {
			t.Fatalf("%s answered without an error (status %d)", refID, r.Status)
		}
		okStatus := false
		for _, st := range statuses {
			okStatus = okStatus || r.Status == st
		}
		if !okStatus {
			t.Errorf("%s: status %d, want one of %v (%v)", refID, r.Status, statuses, r.Error)
		}
		if r.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("%s: errorSource %q (Grafana reads it as %q), want %q: Grafana counts any other error against the plugin itself (%v)",
				refID, string(r.ErrorSource), r.ErrorSource.String(), backend.ErrorSourceDownstream, r.Error)
		}
		if mention != "" && !strings.Contains(r.Error.Error(), mention) {
			t.Errorf("%s: the message %q does not name %q", refID, r.Error, mention)
		}
	}

	resp := &backend.QueryDataResponse{}
	check(t, "a request with two bad queries and two good ones answers each on its own", func(t *testing.T) {
		resp = s.query(ctx, t, s.ds, UserCaller, good, badType, badFilter, goodProm)
		okResponse(t, resp, "good-api")
		okResponse(t, resp, "good-prom")
	})
	check(t, "unknown queryType: 400, downstream, names the key", func(t *testing.T) {
		wantError(t, resp, "bad-type", []backend.Status{backend.StatusBadRequest}, "queryType")
	})
	check(t, "bad filter value: 400, downstream, names the key", func(t *testing.T) {
		wantError(t, resp, "bad-filter", []backend.Status{backend.StatusBadRequest}, "filters.status")
	})

	closed, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	deadURL := fmt.Sprintf("http://127.0.0.1:%d", closed)
	variant := func(uid, url, token, promURL string) DataSource {
		jd, _ := json.Marshal(map[string]any{"apiPath": "/api/v2/", "authType": "token", "timeoutSeconds": 5, "prometheusUrl": promURL, "prometheusSelector": `job="awx"`})
		return DataSource{UID: uid, Name: uid, URL: url, JSONData: jd, Secure: map[string]string{"token": token}, Updated: time.Now()}
	}
	gateway := []backend.Status{backend.StatusBadGateway, backend.Status(503), backend.StatusTimeout}
	check(t, "AWX unreachable: 5xx gateway status, downstream; Prometheus queries still answer", func(t *testing.T) {
		r := s.query(ctx, t, variant("awx-unreachable", deadURL, s.consts.AdminToken, s.prom.URL), AlertingCaller, good, goodProm)
		wantError(t, r, "good-api", gateway, "")
		okResponse(t, r, "good-prom")
	})
	check(t, "AWX rejects the token: 401 or 403, downstream; Prometheus queries still answer", func(t *testing.T) {
		r := s.query(ctx, t, variant("awx-bad-token", s.sim.URL, wrongToken, s.prom.URL), AlertingCaller, good, goodProm)
		wantError(t, r, "good-api", []backend.Status{backend.StatusUnauthorized, backend.StatusForbidden}, "")
		okResponse(t, r, "good-prom")
	})
	check(t, "Prometheus unreachable: 5xx gateway status, downstream; API queries still answer", func(t *testing.T) {
		r := s.query(ctx, t, variant("awx-prom-unreachable", s.sim.URL, s.consts.AdminToken, deadURL), AlertingCaller, good, goodProm)
		wantError(t, r, "good-prom", gateway, "")
		okResponse(t, r, "good-api")
	})
}

func (s *stack) lifecycleChecks(ctx context.Context, t *testing.T) {
	check(t, "health OK just before Grafana stops the plugin", func(t *testing.T) {
		res, err := s.plugin.CheckHealth(ctx, s.ds)
		if err != nil || res.Status != backend.HealthStatusOk {
			t.Fatalf("health: %v %v", res, err)
		}
	})
	res := s.plugin.Kill()
	t.Logf("Kill: %s", res)
	check(t, "Kill (GRPCController Shutdown) ends the process by itself, not by SIGKILL", func(t *testing.T) {
		if res.Forced || res.SIGKILLed() {
			t.Fatalf("go-plugin had to kill the plugin: %s", res)
		}
		if res.State == nil || !res.State.Success() {
			t.Fatalf("the plugin did not exit cleanly: %s", res)
		}
	})
	// The plugin may drain requests in flight for a moment; what matters is that it does not
	// sit out go-plugin's grace until the SIGKILL.
	check(t, "Kill returns well within go-plugin's 2 s grace", func(t *testing.T) {
		if res.Took > 1500*time.Millisecond {
			t.Fatalf("%s", res)
		}
	})
}

// hclogTime is the timestamp layout go-plugin parses from a plugin's JSON log lines.
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

func (s *stack) logChecks(t *testing.T) {
	stderr := s.plugin.Stderr.String()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	type entry struct {
		raw    string
		fields map[string]any
	}
	var entries []entry
	check(t, "every stderr line is an hclog JSON line go-plugin can parse", func(t *testing.T) {
		if strings.TrimSpace(stderr) == "" {
			t.Fatal("the plugin wrote nothing to stderr")
		}
		bad := 0
		for _, l := range lines {
			var m map[string]any
			err := json.Unmarshal([]byte(l), &m)
			problem := ""
			switch {
			case err != nil:
				problem = "not JSON"
			case len(l) >= 64*1024:
				problem = "longer than go-plugin's 64 KiB line buffer"
			default:
				lvl, ok1 := m["@level"].(string)
				_, ok2 := m["@message"].(string)
				ts, ok3 := m["@timestamp"].(string)
				switch {
				case !ok1 || !ok2 || !ok3:
					problem = "@level, @message and @timestamp must be strings"
				case !strings.Contains(" trace debug info warn error ", " "+lvl+" "):
					problem = "unknown @level " + lvl
				default:
					if _, err := time.Parse(hclogTime, ts); err != nil {
						problem = "@timestamp not in hclog's layout"
					}
				}
			}
			if problem != "" {
				if bad++; bad <= 5 {
					t.Errorf("%s: %.300s", problem, l)
				}
				continue
			}
			entries = append(entries, entry{raw: l, fields: m})
		}
		if bad > 0 {
			t.Errorf("%d of %d lines are not hclog JSON", bad, len(lines))
		}
	})
	versionToken := regexp.MustCompile(`(^|[^0-9.])v?` + regexp.QuoteMeta(s.version) + `($|[^0-9.])`)
	check(t, "a startup line at info level carries the plugin version", func(t *testing.T) {
		for _, e := range entries {
			lvl := e.fields["@level"]
			if lvl != "info" && lvl != "warn" {
				continue
			}
			for k, v := range e.fields {
				if sv, ok := v.(string); ok && k != "@timestamp" && versionToken.MatchString(sv) {
					return
				}
			}
		}
		t.Fatalf("no info line with version %s among %d lines; first lines: %.600s", s.version, len(entries), stderr)
	})
	check(t, "failed queries are logged at warn or error with their refId", func(t *testing.T) {
		for _, ref := range []string{"bad-type", "bad-filter"} {
			found := false
			for _, e := range entries {
				lvl := e.fields["@level"]
				if (lvl == "warn" || lvl == "error") && strings.Contains(e.raw, `"`+ref+`"`) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("no warn or error line names refId %s", ref)
			}
		}
	})
	check(t, "no secret in the plugin's logs, answers or errors", func(t *testing.T) {
		for _, secret := range s.secrets {
			for where, text := range map[string]string{"stderr": stderr, "go-plugin's log": s.plugin.HostLog.String(), "answers": s.seen.String()} {
				if strings.Contains(text, secret) {
					t.Errorf("%s contains the secret %.4s…", where, secret)
				}
			}
		}
	})
}
