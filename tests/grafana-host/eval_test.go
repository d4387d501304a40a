package grafanahost

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The host's own evaluator and converter, on inputs whose outcome Grafana's documented
// semantics fix (values worked out by hand).

func f(v float64) *float64 { return &v }

func series(labels data.Labels, vals ...*float64) Series {
	s := Series{Labels: labels}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, v := range vals {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*time.Minute))
		s.Values = append(s.Values, v)
	}
	return s
}

func numbers(res Results) map[string]*float64 {
	out := map[string]*float64{}
	for _, v := range res.Values {
		if n, ok := v.(Number); ok {
			out[n.Labels.String()] = n.Value
		}
	}
	return out
}

func same(a, b *float64) bool {
	switch {
	case a == nil || b == nil:
		return a == nil && b == nil
	case math.IsNaN(*a) || math.IsNaN(*b):
		return math.IsNaN(*a) && math.IsNaN(*b)
	}
	return *a == *b
}

func TestReduce(t *testing.T) {
	in := Results{Values: []Value{series(data.Labels{"t": "a"}, f(1), nil, f(3), f(math.NaN()))}}
	cases := []struct {
		reducer, mode string
		want          *float64
	}{
		{"sum", "", f(math.NaN())},
		{"sum", "dropNN", f(4)},
		{"sum", "replaceNN", f(14)}, // 1 + 5 + 3 + 5
		{"mean", "dropNN", f(2)},
		{"max", "dropNN", f(3)},
		{"min", "", f(math.NaN())},
		{"count", "", f(4)},
		{"count", "dropNN", f(2)},
		{"last", "", f(math.NaN())},
		{"last", "dropNN", f(3)},
	}
	for _, c := range cases {
		check(t, c.reducer+" "+c.mode, func(t *testing.T) {
			res, err := Reduce(in, c.reducer, c.mode, 5)
			if err != nil {
				t.Fatal(err)
			}
			if got := numbers(res)["t=a"]; !same(got, c.want) {
				t.Fatalf("got %s, want %s", fmtPtr(got), fmtPtr(c.want))
			}
		})
	}
	check(t, "dropNN of an all-null series is an empty number", func(t *testing.T) {
		res, err := Reduce(Results{Values: []Value{series(nil, nil, nil)}}, "mean", "dropNN", 0)
		if err != nil || len(res.Values) != 1 || res.Values[0].(Number).Value != nil {
			t.Fatalf("%v %v", Describe(res.Values), err)
		}
	})
	check(t, "a number passes through; an unknown reducer is an error", func(t *testing.T) {
		res, err := Reduce(Results{Values: []Value{Number{Labels: data.Labels{"s": "x"}, Value: f(7)}}}, "max", "", 0)
		if err != nil || !same(numbers(res)["s=x"], f(7)) {
			t.Fatalf("%v %v", Describe(res.Values), err)
		}
		if _, err := Reduce(res, "median", "", 0); err == nil {
			t.Fatal("median accepted")
		}
	})
}

func TestMath(t *testing.T) {
	vars := map[string]Results{
		"C": {Values: []Value{
			Number{Labels: data.Labels{"template": "a"}, Value: f(2)},
			Number{Labels: data.Labels{"template": "b"}, Value: f(4)},
			Number{Labels: data.Labels{"template": "c"}, Value: f(1)},
		}},
		"D": {Values: []Value{
			Number{Labels: data.Labels{"template": "a"}, Value: f(5)},
			Number{Labels: data.Labels{"template": "b"}, Value: f(4)},
			Number{Labels: data.Labels{"template": "d"}, Value: f(9)},
		}},
		"P": {Values: []Value{Number{Labels: data.Labels{"template": "a", "stat": "p95"}, Value: f(10)}}},
		"Z": {Values: []Value{Number{Value: f(0)}}},
		"N": {Values: []Value{Number{Value: f(math.NaN())}}},
		"E": {Values: []Value{Number{Labels: data.Labels{"template": "a"}}}},
	}
	check(t, "pairs by equal labels and drops the unmatched", func(t *testing.T) {
		res, err := Math("$D >= 5 && $C / $D * 100 > 20", vars)
		if err != nil {
			t.Fatal(err)
		}
		got := numbers(res)
		if len(got) != 2 || !same(got["template=a"], f(1)) || !same(got["template=b"], f(0)) {
			t.Fatalf("%s", Describe(res.Values))
		}
		if len(res.Notices) != 1 || !strings.HasPrefix(res.Notices[0], "3 items dropped") {
			t.Fatalf("notices %v", res.Notices)
		}
	})
	check(t, "a label set containing the other pairs, keeping the larger", func(t *testing.T) {
		res, err := Math("$P / $D", vars)
		if err != nil {
			t.Fatal(err)
		}
		if got := numbers(res); len(got) != 1 || !same(got["stat=p95, template=a"], f(2)) {
			t.Fatalf("%s", Describe(res.Values))
		}
	})
	check(t, "scalars, precedence and parentheses", func(t *testing.T) {
		res, err := Math("$C > 2 * ${D} - (1 + 2 * 3 ** 2 % 4)", vars)
		if err != nil {
			t.Fatal(err)
		}
		// 3 ** 2 = 9, 2 * 9 = 18, 18 % 4 = 2, 1 + 2 = 3; a: 2 > 10 - 3 is 0, b: 4 > 8 - 3 is 0
		got := numbers(res)
		if len(got) != 2 || !same(got["template=a"], f(0)) || !same(got["template=b"], f(0)) {
			t.Fatalf("%s", Describe(res.Values))
		}
	})
	check(t, "&& decides on a zero left side before NaN; NaN otherwise spreads", func(t *testing.T) {
		res, err := Math("$Z && $N", vars)
		if err != nil || !same(numbers(res)[""], f(0)) {
			t.Fatalf("%s %v", Describe(res.Values), err)
		}
		res, err = Math("$N + 1", vars)
		if err != nil || !same(numbers(res)[""], f(math.NaN())) {
			t.Fatalf("%s %v", Describe(res.Values), err)
		}
	})
	check(t, "an empty number gives an empty result", func(t *testing.T) {
		res, err := Math("$E * 2", vars)
		if err != nil || numbers(res)["template=a"] != nil || len(res.Values) != 1 {
			t.Fatalf("%s %v", Describe(res.Values), err)
		}
	})
	check(t, "a series with a number is computed point by point", func(t *testing.T) {
		v := map[string]Results{"A": {Values: []Value{series(data.Labels{"h": "x"}, f(1), nil, f(3))}}}
		res, err := Math("$A * 10", v)
		if err != nil {
			t.Fatal(err)
		}
		s := res.Values[0].(Series)
		if len(s.Values) != 3 || !same(s.Values[0], f(10)) || s.Values[1] != nil || !same(s.Values[2], f(30)) {
			t.Fatalf("%v", s.Values)
		}
	})
	check(t, "syntax errors are errors", func(t *testing.T) {
		for _, bad := range []string{"$A +", "($A", "abs($A)", "$"} {
			if _, err := Math(bad, map[string]Results{"A": {}}); err == nil {
				t.Errorf("%q accepted", bad)
			}
		}
	})
}

func TestThresholdAndCondition(t *testing.T) {
	in := Results{Values: []Value{
		Number{Labels: data.Labels{"h": "a"}, Value: f(91)},
		Number{Labels: data.Labels{"h": "b"}, Value: f(90)},
		Number{Labels: data.Labels{"h": "c"}},
	}}
	check(t, "gt gives 1, 0 and null", func(t *testing.T) {
		res, err := Threshold(in, "gt", []float64{90})
		if err != nil {
			t.Fatal(err)
		}
		got := numbers(res)
		if !same(got["h=a"], f(1)) || !same(got["h=b"], f(0)) || got["h=c"] != nil {
			t.Fatalf("%s", Describe(res.Values))
		}
		if _, err := Threshold(in, "within_range", []float64{1}); err == nil {
			t.Fatal("a range with one bound accepted")
		}
	})
	check(t, "a condition of numbers gives one instance per label set", func(t *testing.T) {
		inst, err := ConditionInstances(in)
		if err != nil || len(inst) != 3 {
			t.Fatalf("%v %v", inst, err)
		}
	})
	check(t, "a condition with repeated labels or a series is refused", func(t *testing.T) {
		dup := Results{Values: []Value{Number{Labels: data.Labels{"h": "a"}, Value: f(1)}, Number{Labels: data.Labels{"h": "a"}, Value: f(2)}}}
		if _, err := ConditionInstances(dup); err == nil || !strings.Contains(err.Error(), "cannot uniquely be identified") {
			t.Fatalf("%v", err)
		}
		if _, err := ConditionInstances(Results{Values: []Value{series(nil, f(1))}}); err == nil {
			t.Fatal("a series accepted as a condition")
		}
	})
}

func wideFrame(nullableTime bool) *data.Frame {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var timeField *data.Field
	if nullableTime {
		t1 := t0.Add(time.Minute)
		timeField = data.NewField("time", nil, []*time.Time{&t0, &t1})
	} else {
		timeField = data.NewField("time", nil, []time.Time{t0, t0.Add(time.Minute)})
	}
	fr := data.NewFrame("",
		timeField,
		data.NewField("failure_rate", data.Labels{"measure": "failure_rate"}, []*float64{f(10), nil}),
		data.NewField("failures", data.Labels{"measure": "failures"}, []*float64{f(1), f(0)}),
	)
	fr.SetMeta(&data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}})
	return fr
}

func TestConvert(t *testing.T) {
	check(t, "a typed wide series is read by the dataplane reader", func(t *testing.T) {
		conv, err := Convert(data.Frames{wideFrame(false)})
		if err != nil || conv.Path != "dataplane-timeseries-wide" || len(conv.Results.Values) != 2 || len(conv.Findings) != 0 {
			t.Fatalf("%s %s %v %v", conv.Path, Describe(conv.Results.Values), conv.Findings, err)
		}
	})
	check(t, "a nullable time field is refused as Grafana refuses it", func(t *testing.T) {
		_, err := Convert(data.Frames{wideFrame(true)})
		if err == nil || !strings.Contains(err.Error(), "missing a []time.Time field") {
			t.Fatalf("%v", err)
		}
	})
	check(t, "an untyped table of one number and strings is a number set", func(t *testing.T) {
		fr := data.NewFrame("", data.NewField("status", nil, []string{"failed", "successful"}), data.NewField("count", nil, []*float64{f(2), f(9)}))
		conv, err := Convert(data.Frames{fr})
		if err != nil || conv.Path != "number set" || !same(numbers(conv.Results)["status=failed"], f(2)) {
			t.Fatalf("%s %s %v", conv.Path, Describe(conv.Results.Values), err)
		}
	})
	check(t, "an untyped table of several numbers is not alertable", func(t *testing.T) {
		fr := data.NewFrame("", data.NewField("hostname", nil, []string{"a"}), data.NewField("capacity", nil, []float64{1}), data.NewField("used", nil, []float64{2}))
		if _, err := Convert(data.Frames{fr}); err == nil || !strings.Contains(err.Error(), "input data must be a wide series") {
			t.Fatalf("%v", err)
		}
	})
	check(t, "numeric-long rows become numbers labelled by their strings", func(t *testing.T) {
		fr := data.NewFrame("", data.NewField("status", nil, []string{"failed", "running"}), data.NewField("count", nil, []float64{3, 1}))
		fr.SetMeta(&data.FrameMeta{Type: data.FrameTypeNumericLong, TypeVersion: data.FrameTypeVersion{0, 1}})
		conv, err := Convert(data.Frames{fr})
		if err != nil || !same(numbers(conv.Results)["status=running"], f(1)) || len(DuplicateLabels(conv.Results.Values)) != 0 {
			t.Fatalf("%s %v", Describe(conv.Results.Values), err)
		}
	})
	check(t, "numeric-wide with several rows is flagged: Grafana reads no value", func(t *testing.T) {
		fr := data.NewFrame("", data.NewField("used", data.Labels{"h": "a"}, []float64{3, 4}))
		fr.SetMeta(&data.FrameMeta{Type: data.FrameTypeNumericWide, TypeVersion: data.FrameTypeVersion{0, 1}})
		conv, err := Convert(data.Frames{fr})
		if err != nil || len(conv.Findings) == 0 {
			t.Fatalf("%v %v", conv.Findings, err)
		}
	})
	check(t, "fields without labels of the same frame share a label set", func(t *testing.T) {
		fr := wideFrame(false)
		for _, fl := range fr.Fields {
			fl.Labels = nil
		}
		conv, err := Convert(data.Frames{fr})
		if err != nil || len(DuplicateLabels(conv.Results.Values)) != 1 {
			t.Fatalf("%v %v", DuplicateLabels(conv.Results.Values), err)
		}
	})
}

func TestParseAlertingDoc(t *testing.T) {
	doc := "## 9. A rule\n\n```yaml\n      - uid: r\n        title: R\n        condition: B\n        data:\n          - refId: A\n            datasourceUid: awx\n            relativeTimeRange: {from: 600, to: 0}\n            model: {refId: A, queryType: promql, expr: up}\n          - refId: B\n            datasourceUid: __expr__\n            model: {refId: B, type: reduce, expression: A, reducer: last}\n```\n\nPart of it:\n\n```yaml\n        data:\n          - refId: A\n            datasourceUid: awx\n            relativeTimeRange: {from: 60, to: 0}\n            model: {refId: A, queryType: system}\n          - refId: C\n            datasourceUid: __expr__\n            model: {refId: C, type: threshold, expression: A, conditions: [{evaluator: {type: gt, params: [1]}}]}\n```\n\n```yaml\napiVersion: 1\n```\n"
	check(t, "rules and partial rules are found, with their sections", func(t *testing.T) {
		rules, err := ParseAlertingDoc([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) != 2 || rules[0].Condition != "B" || rules[1].Condition != "C" || rules[0].Data[0].RelativeTimeRange.From != 600 ||
			!strings.HasPrefix(rules[1].Where, "9. A rule") || rules[0].Data[1].Model["reducer"] != "last" {
			t.Fatalf("%+v", rules)
		}
	})
}
