package grafanahost

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Grafana alerting fills these into a query model that does not set them.
const (
	alertDefaultIntervalMs    = 1000
	alertDefaultMaxDataPoints = 43200
)

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// evaluateRule runs a rule as Grafana's scheduler does at one evaluation: the data source
// queries together in one request for the rule's relative ranges, each answer converted by
// the expression engine, then the expressions in dependency order, then the condition.
func (s *stack) evaluateRule(ctx context.Context, t *testing.T, r Rule) (map[string]Results, []Instance, error) {
	t.Helper()
	vars := map[string]Results{}
	var queries []Query
	prom, api := false, false
	for _, st := range r.Data {
		if st.IsExpression() {
			continue
		}
		if isPrometheus(st.Model) {
			prom = true
		} else {
			api = true
		}
	}
	if prom && api {
		return nil, nil, fmt.Errorf("the rule mixes API and Prometheus queries; this host evaluates each against one clock")
	}
	now := s.consts.SimNow
	if prom {
		now = time.Now()
	}
	for _, st := range r.Data {
		if st.IsExpression() {
			continue
		}
		if st.DatasourceUID != s.ds.UID {
			return nil, nil, fmt.Errorf("step %s queries data source %q, not the provisioned %q", st.RefID, st.DatasourceUID, s.ds.UID)
		}
		if st.RelativeTimeRange == nil || st.RelativeTimeRange.From <= st.RelativeTimeRange.To {
			return nil, nil, fmt.Errorf("step %s: relativeTimeRange must have from > to", st.RefID)
		}
		model := map[string]any{}
		for k, v := range st.Model {
			model[k] = v
		}
		if _, ok := model["intervalMs"]; !ok {
			model["intervalMs"] = alertDefaultIntervalMs
		}
		if _, ok := model["maxDataPoints"]; !ok {
			model["maxDataPoints"] = alertDefaultMaxDataPoints
		}
		interval, ok1 := number(model["intervalMs"])
		maxDP, ok2 := number(model["maxDataPoints"])
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("step %s: intervalMs and maxDataPoints must be numbers", st.RefID)
		}
		queries = append(queries, Query{
			RefID: st.RefID, Model: model,
			From:          now.Add(-time.Duration(st.RelativeTimeRange.From) * time.Second),
			To:            now.Add(-time.Duration(st.RelativeTimeRange.To) * time.Second),
			Interval:      time.Duration(interval) * time.Millisecond,
			MaxDataPoints: int64(maxDP),
		})
	}
	resp := s.query(ctx, t, s.ds, AlertingCaller, queries...)
	for _, q := range queries {
		dr, ok := resp.Responses[q.RefID]
		if !ok {
			return vars, nil, fmt.Errorf("[sse.dataQueryError] no answer for %s", q.RefID)
		}
		if dr.Error != nil {
			return vars, nil, fmt.Errorf("[sse.dataQueryError] failed to execute query [%s]: %v", q.RefID, dr.Error)
		}
		conv, err := Convert(dr.Frames)
		if err != nil {
			return vars, nil, fmt.Errorf("[sse.readDataError] [%s] got error: %v", q.RefID, err)
		}
		for _, f := range conv.Findings {
			t.Logf("%s: %s", q.RefID, f)
		}
		vars[q.RefID] = conv.Results
	}
	pending := []RuleStep{}
	for _, st := range r.Data {
		if st.IsExpression() {
			pending = append(pending, st)
		}
	}
	for len(pending) > 0 {
		progressed := false
		var next []RuleStep
		for _, st := range pending {
			deps, err := exprDeps(st)
			if err != nil {
				return vars, nil, err
			}
			ready := true
			for _, d := range deps {
				if _, ok := vars[d]; !ok {
					ready = false
				}
			}
			if !ready {
				next = append(next, st)
				continue
			}
			res, err := evalExpr(st, vars)
			if err != nil {
				return vars, nil, fmt.Errorf("expression %s: %w", st.RefID, err)
			}
			vars[st.RefID] = res
			progressed = true
		}
		if !progressed {
			return vars, nil, fmt.Errorf("expressions %v refer to steps that do not exist", next)
		}
		pending = next
	}
	cond, ok := vars[r.Condition]
	if !ok {
		return vars, nil, fmt.Errorf("condition %s is not a step of the rule", r.Condition)
	}
	inst, err := ConditionInstances(cond)
	return vars, inst, err
}

func exprDeps(st RuleStep) ([]string, error) {
	expr, _ := st.Model["expression"].(string)
	typ, _ := st.Model["type"].(string)
	if typ == "math" {
		return MathVars(expr)
	}
	if expr == "" {
		return nil, fmt.Errorf("expression %s has no input", st.RefID)
	}
	return []string{strings.Trim(expr, "${}")}, nil
}

func evalExpr(st RuleStep, vars map[string]Results) (Results, error) {
	typ, _ := st.Model["type"].(string)
	expr, _ := st.Model["expression"].(string)
	switch typ {
	case "reduce":
		reducer, _ := st.Model["reducer"].(string)
		mode, replace := "", 0.0
		if settings, ok := st.Model["settings"].(map[string]any); ok {
			mode, _ = settings["mode"].(string)
			replace, _ = number(settings["replaceWithValue"])
		}
		return Reduce(vars[strings.Trim(expr, "${}")], reducer, mode, replace)
	case "math":
		return Math(expr, vars)
	case "threshold":
		conds, _ := st.Model["conditions"].([]any)
		if len(conds) != 1 {
			return Results{}, fmt.Errorf("threshold expression requires exactly one condition")
		}
		c, _ := conds[0].(map[string]any)
		ev, _ := c["evaluator"].(map[string]any)
		typ, _ := ev["type"].(string)
		var params []float64
		ps, _ := ev["params"].([]any)
		for _, p := range ps {
			f, ok := number(p)
			if !ok {
				return Results{}, fmt.Errorf("threshold parameter %v is not a number", p)
			}
			params = append(params, f)
		}
		return Threshold(vars[strings.Trim(expr, "${}")], typ, params)
	}
	return Results{}, fmt.Errorf("expression type %q is not evaluated by this host (only reduce, math, threshold)", typ)
}

func (s *stack) ruleChecks(ctx context.Context, t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(s.root, "docs", "ALERTING.md"))
	var rules []Rule
	if err == nil {
		rules, err = ParseAlertingDoc(raw)
	}
	check(t, "docs/ALERTING.md rules parse", func(t *testing.T) {
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) < 5 {
			t.Fatalf("%d rules, the page promises at least five", len(rules))
		}
	})
	// A Prometheus rule over a 15 s step needs a Prometheus that has scraped for longer than
	// one step: the first step of a fresh one has no sample yet.
	if wait := 20*time.Second - time.Since(s.promSince); wait > 0 {
		time.Sleep(wait)
	}
	for _, r := range rules {
		name := r.Title
		if name == "" {
			name = "untitled rule"
		}
		check(t, fmt.Sprintf("%s: %s", r.Where, name), func(t *testing.T) {
			vars, inst, err := s.evaluateRule(ctx, t, r)
			for ref, res := range vars {
				t.Logf("%s = %s %v", ref, Describe(res.Values), res.Notices)
			}
			if err != nil {
				t.Fatal(err)
			}
			withValue := 0
			for _, in := range inst {
				if in.Value != nil {
					withValue++
				}
			}
			if withValue == 0 {
				t.Fatalf("the condition %s gave no alert instance with a value: %v", r.Condition, inst)
			}
			switch r.UID {
			case "awx-template-failure-rate":
				s.judgeFailureRateRule(t, vars)
			case "awx-host-unreachable":
				s.judgeHostUnreachableRule(ctx, t, vars)
			}
		})
	}
}

// judgeFailureRateRule recomputes rule 1 from the simulator's ground truth: per template, the
// failed (failed + error) and the decided (successful + failed + error) jobs that finished in
// the last hour, implicit project syncs left out, and the condition from them.
func (s *stack) judgeFailureRateRule(t *testing.T, vars map[string]Results) {
	from, to := s.consts.SimNow.Add(-time.Hour), s.consts.SimNow
	failed, decided := map[string]float64{}, map[string]float64{}
	for _, j := range s.truth {
		if j.TemplateName == nil || j.Finished == nil || j.LaunchType == "sync" {
			continue
		}
		if j.Finished.Before(from) || !j.Finished.Before(to) {
			continue
		}
		switch j.Status {
		case "failed", "error":
			failed[*j.TemplateName]++
			decided[*j.TemplateName]++
		case "successful":
			decided[*j.TemplateName]++
		}
	}
	byTemplate := func(ref string) map[string]*float64 {
		out := map[string]*float64{}
		for _, v := range vars[ref].Values {
			if n, ok := v.(Number); ok {
				out[n.Labels["template"]] = n.Value
			}
		}
		return out
	}
	c, d, e := byTemplate("C"), byTemplate("D"), byTemplate("E")
	if len(decided) == 0 {
		t.Fatal("the simulator finished no job in the last hour; the fixture cannot judge rule 1")
	}
	for tpl, want := range decided {
		if got := d[tpl]; got == nil || *got != want {
			t.Errorf("D{template=%s} = %s, the truth says %v jobs decided", tpl, fmtPtr(got), want)
		}
	}
	for tpl, want := range failed {
		if got := c[tpl]; got == nil || *got != want {
			t.Errorf("C{template=%s} = %s, the truth says %v jobs failed", tpl, fmtPtr(got), want)
		}
	}
	for tpl, got := range e {
		want := 0.0
		if decided[tpl] >= 5 && failed[tpl]/decided[tpl]*100 > 20 {
			want = 1
		}
		if got == nil || math.Abs(*got-want) > 0 {
			t.Errorf("E{template=%s} = %s, want %v (%v of %v failed)", tpl, fmtPtr(got), want, failed[tpl], decided[tpl])
		}
	}
	if len(e) == 0 {
		t.Error("E has no instance")
	}
}

// judgeHostUnreachableRule recomputes rule 5 from the simulator's ground truth: per host that
// failed or was unreachable in a run that finished in the last hour, the runs in which it was
// unreachable (B), and whether that is more than 2 (C).
func (s *stack) judgeHostUnreachableRule(ctx context.Context, t *testing.T, vars map[string]Results) {
	from, to := s.consts.SimNow.Add(-time.Hour), s.consts.SimNow
	runs, err := s.sim.FailedHosts(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	unreachable := map[string]float64{}
	for _, r := range runs {
		for _, h := range r.Hosts {
			// every host listed has an instance; it counts the runs it was unreachable in
			n := unreachable[h.Name]
			if h.Dark > 0 {
				n++
			}
			unreachable[h.Name] = n
		}
	}
	if len(unreachable) == 0 {
		t.Fatal("no host failed in the last hour of the fixture; rule 5 cannot be judged")
	}
	byHost := func(ref string) map[string]*float64 {
		out := map[string]*float64{}
		for _, v := range vars[ref].Values {
			if n, ok := v.(Number); ok {
				if n.Labels["outcome"] != "unreachable" {
					t.Errorf("%s carries outcome %q; the rule asks for unreachable only", ref, n.Labels["outcome"])
				}
				out[n.Labels["host"]] = n.Value
			}
		}
		return out
	}
	b, c := byHost("B"), byHost("C")
	if len(b) != len(unreachable) {
		t.Errorf("B has %d hosts, the truth %d: %v", len(b), len(unreachable), unreachable)
	}
	for host, want := range unreachable {
		if got := b[host]; got == nil || *got != want {
			t.Errorf("B{host=%s} = %s, the truth says unreachable in %v runs", host, fmtPtr(got), want)
		}
		fire := 0.0
		if want > 2 {
			fire = 1
		}
		if got := c[host]; got == nil || *got != fire {
			t.Errorf("C{host=%s} = %s, want %v", host, fmtPtr(got), fire)
		}
	}
}
