package grafanahost

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/dataplane/sdata"
	"github.com/grafana/dataplane/sdata/numeric"
	"github.com/grafana/dataplane/sdata/reader"
	"github.com/grafana/dataplane/sdata/timeseries"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The values server-side expressions compute with, after Grafana's pkg/expr/mathexp:
// a series (time and nullable value, labelled), a number (labelled), a scalar, or no data.

type Value interface {
	GetLabels() data.Labels
	Kind() string
}

type Series struct {
	Labels data.Labels
	Times  []time.Time
	Values []*float64
}

type Number struct {
	Labels data.Labels
	Value  *float64
}

type Scalar struct{ Value *float64 }

type NoData struct{}

func (s Series) GetLabels() data.Labels { return s.Labels }
func (s Series) Kind() string           { return "series" }
func (n Number) GetLabels() data.Labels { return n.Labels }
func (n Number) Kind() string           { return "number" }
func (Scalar) GetLabels() data.Labels   { return nil }
func (Scalar) Kind() string             { return "scalar" }
func (NoData) GetLabels() data.Labels   { return nil }
func (NoData) Kind() string             { return "no data" }

// Results are the values of one query or expression.
type Results struct {
	Values []Value
	// Notices are what Grafana would attach to the result (dropped union items, ...).
	Notices []string
}

// Conversion is how Grafana's expression engine read a data source's answer for one refId.
type Conversion struct {
	// Path names the branch Grafana took, as its own "responseType": dataplane-<type>,
	// "number set", "single frame series", "multi frame series" or "no-data".
	Path    string
	Results Results
	// Findings are what Grafana would log while reading (a dataplane type it could not read
	// and fell back from, a version it does not know, fields it ignored); none breaks a rule
	// by itself, but each means the plugin's frames are not what it declares.
	Findings []string
}

// Convert reads frames the way Grafana's ResultConverter.Convert does for a data source that
// is not Prometheus: frames with a dataplane meta.type (and typeVersion) go to the dataplane
// readers; others are taken as a numeric table (one number field, only string fields
// beside it) or must all be wide time series.
func Convert(frames data.Frames) (conv Conversion, err error) {
	// The readers assert types (labels from string cells, for instance); a panic there is an
	// error of the answer, not of this host.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the frames panicked (Grafana would fail the query): %v", r)
		}
	}()
	if len(frames) == 0 {
		conv.Path = "no-data"
		conv.Results.Values = []Value{NoData{}}
		return conv, nil
	}
	if f := frames[0]; f != nil && f.Meta != nil && f.Meta.Type != "" && !f.Meta.TypeVersion.IsZero() {
		dt, err := reader.CanReadBasedOnMeta(frames)
		var vw *sdata.VersionWarning
		switch {
		case err == nil:
			return convertDataplane(dt, frames)
		case errors.As(err, &vw):
			conv, err := convertDataplane(dt, frames)
			conv.Findings = append(conv.Findings, "Grafana warns: "+vw.Error())
			return conv, err
		default:
			conv.Findings = append(conv.Findings, fmt.Sprintf("meta.type %q is not readable by the dataplane readers (%v); Grafana falls back to guessing", f.Meta.Type, err))
		}
	}
	return convertHeuristic(frames, conv)
}

func convertDataplane(dt data.FrameType, frames data.Frames) (Conversion, error) {
	conv := Conversion{Path: "dataplane-" + string(dt)}
	switch dt.Kind() {
	case data.KindUnknown:
		conv.Results.Values = []Value{NoData{}}
		return conv, nil
	case data.KindTimeSeries:
		r, err := timeseries.CollectionReaderFromFrames(frames)
		if err != nil {
			return conv, err
		}
		c, err := r.GetCollection(false)
		if err != nil {
			return conv, err
		}
		if c.Warning != nil {
			conv.Findings = append(conv.Findings, "Grafana warns: "+c.Warning.Error())
		}
		for _, rem := range c.RemainderIndices {
			conv.Findings = append(conv.Findings, fmt.Sprintf("frame %d field %d ignored: %s", rem.FrameIdx, rem.FieldIdx, rem.Reason))
		}
		if c.NoData() {
			conv.Results.Values = []Value{NoData{}}
			return conv, nil
		}
		for _, ref := range c.Refs {
			s, err := seriesFromRef(ref)
			if err != nil {
				return conv, err
			}
			conv.Results.Values = append(conv.Results.Values, s)
		}
		return conv, nil
	case data.KindNumeric:
		r, err := numeric.CollectionReaderFromFrames(frames)
		if err != nil {
			return conv, err
		}
		c, err := r.GetCollection(false)
		if err != nil {
			return conv, err
		}
		if c.Warning != nil {
			conv.Findings = append(conv.Findings, "Grafana warns: "+c.Warning.Error())
		}
		if c.NoData() {
			conv.Results.Values = []Value{NoData{}}
			return conv, nil
		}
		numeric.SortNumericMetricRef(c.Refs)
		for _, ref := range c.Refs {
			v, empty, err := ref.NullableFloat64Value()
			if err != nil {
				return conv, err
			}
			// Grafana takes the value of a numeric field only when it holds exactly one row; a
			// longer field silently becomes an empty number.
			if empty {
				conv.Findings = append(conv.Findings, fmt.Sprintf("numeric field %q %s has %d values, not one: Grafana reads no value from it", ref.GetMetricName(), ref.GetLabels(), ref.ValueField.Len()))
			}
			conv.Results.Values = append(conv.Results.Values, Number{Labels: ref.GetLabels().Copy(), Value: v})
		}
		return conv, nil
	default:
		return conv, fmt.Errorf("kind %s (type %s) not supported by server side expressions", dt.Kind(), dt)
	}
}

func seriesFromRef(ref timeseries.MetricRef) (Series, error) {
	s := Series{Labels: ref.GetLabels().Copy()}
	n, err := ref.Len()
	if err != nil {
		return s, err
	}
	for i := 0; i < n; i++ {
		t, v, err := ref.NullableFloat64Point(i)
		if err != nil {
			return s, err
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
	}
	return s, nil
}

func convertHeuristic(frames data.Frames, conv Conversion) (Conversion, error) {
	if len(frames) == 1 {
		f := frames[0]
		if len(f.Fields) == 0 {
			conv.Path = "no-data"
			conv.Results.Values = []Value{NoData{}}
			return conv, nil
		}
		if f.TimeSeriesSchema().Type == data.TimeSeriesTypeNot && isNumberTable(f) {
			conv.Path = "number set"
			conv.Results.Values = numberSet(f)
			return conv, nil
		}
	}
	conv.Path = "single frame series"
	if len(frames) > 1 {
		conv.Path = "multi frame series"
	}
	for _, f := range frames {
		schema := f.TimeSeriesSchema()
		if schema.Type != data.TimeSeriesTypeWide {
			return conv, fmt.Errorf("input data must be a wide series but got type %s (input refid)", schema.Type)
		}
		for _, vi := range schema.ValueIndices {
			s, err := wideSeries(f, schema.TimeIndex, vi)
			if err != nil {
				return conv, err
			}
			conv.Results.Values = append(conv.Results.Values, s)
		}
	}
	return conv, nil
}

func isNumberTable(f *data.Frame) bool {
	numbers, others := 0, 0
	for _, field := range f.Fields {
		t := field.Type()
		switch {
		case t.Numeric():
			numbers++
		case t == data.FieldTypeString || t == data.FieldTypeNullableString:
		default:
			others++
		}
	}
	return numbers == 1 && others == 0
}

// numberSet is one number per row, labelled with the row's string cells.
func numberSet(f *data.Frame) []Value {
	num := -1
	var strs []int
	for i, field := range f.Fields {
		switch t := field.Type(); {
		case t.Numeric():
			num = i
		case t == data.FieldTypeString || t == data.FieldTypeNullableString:
			strs = append(strs, i)
		}
	}
	out := make([]Value, 0, f.Rows())
	for row := 0; row < f.Rows(); row++ {
		v, _ := f.FloatAt(num, row)
		var labels data.Labels
		for _, si := range strs {
			if labels == nil {
				labels = data.Labels{}
			}
			cell, _ := f.ConcreteAt(si, row)
			labels[f.Fields[si].Name] = cell.(string)
		}
		out = append(out, Number{Labels: labels, Value: &v})
	}
	return out
}

func wideSeries(f *data.Frame, ti, vi int) (Series, error) {
	s := Series{Labels: f.Fields[vi].Labels.Copy()}
	tf, vf := f.Fields[ti], f.Fields[vi]
	for i := 0; i < tf.Len(); i++ {
		var t time.Time
		switch tv := tf.At(i).(type) {
		case time.Time:
			t = tv
		case *time.Time:
			if tv == nil {
				return s, errors.New("time series with null time stamps are not supported")
			}
			t = *tv
		}
		v, err := vf.NullableFloatAt(i)
		if err != nil {
			return s, fmt.Errorf("no float64 value column found in frame %v", f.Name)
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// DuplicateLabels lists the label sets carried by more than one value: alerting tells alert
// instances apart by labels alone, and fails the rule on such a result ("frame cannot
// uniquely be identified by its labels").
func DuplicateLabels(values []Value) []string {
	seen := map[string]int{}
	for _, v := range values {
		if _, ok := v.(NoData); ok {
			continue
		}
		seen[v.GetLabels().String()]++
	}
	var dups []string
	for l, n := range seen {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("{%s} x%d", l, n))
		}
	}
	sort.Strings(dups)
	return dups
}

// Describe is a short account of values for messages.
func Describe(values []Value) string {
	var parts []string
	for i, v := range values {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("... %d more", len(values)-i))
			break
		}
		switch x := v.(type) {
		case Number:
			parts = append(parts, fmt.Sprintf("number{%s}=%s", x.Labels, fmtPtr(x.Value)))
		case Series:
			parts = append(parts, fmt.Sprintf("series{%s}[%d]", x.Labels, len(x.Values)))
		default:
			parts = append(parts, v.Kind())
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func fmtPtr(f *float64) string {
	if f == nil {
		return "null"
	}
	return fmt.Sprint(*f)
}
