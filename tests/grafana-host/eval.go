package grafanahost

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// This file evaluates the expression steps of an alert rule (Reduce, Math, Threshold) with
// the semantics of Grafana's server-side expressions (pkg/expr): which values a reducer
// skips, how Math pairs values by labels, what a threshold gives for an empty value.

// Reduce turns every series into a number; numbers pass through, no data stays no data.
// mode is "" (strict: any null or NaN gives NaN), "dropNN" (nulls, NaN and Inf left out) or
// "replaceNN" (replaced by replaceWith).
func Reduce(in Results, reducer, mode string, replaceWith float64) (Results, error) {
	var mapper func(*float64) *float64
	var mapOut func(*float64) *float64
	switch mode {
	case "", "strict":
	case "dropNN":
		mapper = func(v *float64) *float64 {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				return nil
			}
			return v
		}
		mapOut = func(v *float64) *float64 {
			if v != nil && math.IsNaN(*v) {
				return nil
			}
			return v
		}
	case "replaceNN":
		r := replaceWith
		mapper = func(v *float64) *float64 {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				return &r
			}
			return v
		}
		mapOut = func(v *float64) *float64 {
			if v != nil && math.IsNaN(*v) {
				return &r
			}
			return v
		}
	default:
		return Results{}, fmt.Errorf("reducer mode '%s' is not supported. Supported only: [dropNN,replaceNN]", mode)
	}
	fn, err := reduceFunc(reducer)
	if err != nil {
		return Results{}, err
	}
	var out Results
	for _, v := range in.Values {
		switch x := v.(type) {
		case Series:
			vals := x.Values
			if mapper != nil {
				vals = nil
				for _, p := range x.Values {
					if m := mapper(p); m != nil {
						vals = append(vals, m)
					}
				}
			}
			f := fn(vals)
			if f != nil && mapOut != nil {
				f = mapOut(f)
			}
			out.Values = append(out.Values, Number{Labels: x.Labels.Copy(), Value: f})
		case Number:
			val := x.Value
			if mapper != nil {
				if val = mapper(val); val == nil {
					continue
				}
			}
			out.Values = append(out.Values, Number{Labels: x.Labels, Value: val})
		case NoData:
			out.Values = append(out.Values, NoData{})
		default:
			return Results{}, fmt.Errorf("can only reduce type series, got type %v", v.Kind())
		}
	}
	return out, nil
}

func nan() *float64 { f := math.NaN(); return &f }

func reduceFunc(name string) (func([]*float64) *float64, error) {
	strictSum := func(vals []*float64) *float64 {
		var sum float64
		for _, v := range vals {
			if v == nil || math.IsNaN(*v) {
				return nan()
			}
			sum += *v
		}
		return &sum
	}
	extreme := func(better func(a, b float64) bool) func([]*float64) *float64 {
		return func(vals []*float64) *float64 {
			if len(vals) == 0 {
				return nan()
			}
			var f float64
			for i, v := range vals {
				if v == nil || math.IsNaN(*v) {
					return nan()
				}
				if i == 0 || better(*v, f) {
					f = *v
				}
			}
			return &f
		}
	}
	switch strings.ToLower(name) {
	case "sum":
		return strictSum, nil
	case "mean":
		return func(vals []*float64) *float64 {
			f := *strictSum(vals) / float64(len(vals))
			return &f
		}, nil
	case "min":
		return extreme(func(a, b float64) bool { return a < b }), nil
	case "max":
		return extreme(func(a, b float64) bool { return a > b }), nil
	case "count":
		return func(vals []*float64) *float64 { f := float64(len(vals)); return &f }, nil
	case "last":
		return func(vals []*float64) *float64 {
			if len(vals) == 0 {
				return nan()
			}
			return vals[len(vals)-1]
		}, nil
	}
	return nil, fmt.Errorf("reduction %v not implemented", name)
}

// Threshold gives 1 where the predicate holds, 0 where it does not, and null for null.
func Threshold(in Results, typ string, params []float64) (Results, error) {
	need := 1
	if strings.Contains(typ, "range") {
		need = 2
	}
	if len(params) < need {
		return Results{}, fmt.Errorf("incorrect number of arguments for threshold function '%s': got %d but need %d", typ, len(params), need)
	}
	var pred func(float64) bool
	a := params[0]
	switch typ {
	case "gt":
		pred = func(f float64) bool { return f > a }
	case "lt":
		pred = func(f float64) bool { return f < a }
	case "eq":
		pred = func(f float64) bool { return f == a }
	case "ne":
		pred = func(f float64) bool { return f != a }
	case "gte":
		pred = func(f float64) bool { return f >= a }
	case "lte":
		pred = func(f float64) bool { return f <= a }
	case "within_range":
		pred = func(f float64) bool { return f > a && f < params[1] }
	case "outside_range":
		pred = func(f float64) bool { return f < a || f > params[1] }
	case "within_range_included":
		pred = func(f float64) bool { return f >= a && f <= params[1] }
	case "outside_range_included":
		pred = func(f float64) bool { return f <= a || f >= params[1] }
	default:
		return Results{}, fmt.Errorf("expected threshold function to be one of gt, lt, eq, ne, gte, lte, within_range, outside_range, within_range_included, outside_range_included; got %s", typ)
	}
	eval := func(v *float64) *float64 {
		if v == nil {
			return nil
		}
		r := 0.0
		if pred(*v) {
			r = 1
		}
		return &r
	}
	var out Results
	for _, v := range in.Values {
		switch x := v.(type) {
		case Series:
			s := Series{Labels: x.Labels, Times: x.Times}
			for _, p := range x.Values {
				s.Values = append(s.Values, eval(p))
			}
			out.Values = append(out.Values, s)
		case Number:
			out.Values = append(out.Values, Number{Labels: x.Labels, Value: eval(x.Value)})
		case Scalar:
			out.Values = append(out.Values, Scalar{Value: eval(x.Value)})
		case NoData:
			out.Values = append(out.Values, NoData{})
		default:
			return Results{}, fmt.Errorf("unsupported format of the input data, got type %v", v.Kind())
		}
	}
	return out, nil
}

// Math evaluates a math expression such as "$D >= 5 && $C / $D * 100 > 20" over the results
// of earlier steps.
func Math(expr string, vars map[string]Results) (Results, error) {
	p := &mathParser{src: expr}
	if err := p.lex(); err != nil {
		return Results{}, err
	}
	node, err := p.parseOr()
	if err != nil {
		return Results{}, err
	}
	if p.pos < len(p.toks) {
		return Results{}, fmt.Errorf("unexpected %q in %q", p.toks[p.pos].text, expr)
	}
	ev := &mathEval{vars: vars}
	res, err := ev.walk(node)
	if err != nil {
		return Results{}, err
	}
	if ev.dropped > 0 {
		res.Notices = append(res.Notices, fmt.Sprintf("%d items dropped from union(s)", ev.dropped))
	}
	return res, nil
}

// MathVars are the variables an expression refers to.
func MathVars(expr string) ([]string, error) {
	p := &mathParser{src: expr}
	if err := p.lex(); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range p.toks {
		if t.kind == tokVar {
			out = append(out, t.text)
		}
	}
	return out, nil
}

type tokKind int

const (
	tokNum tokKind = iota
	tokVar
	tokOp
	tokLParen
	tokRParen
)

type token struct {
	kind tokKind
	text string
	num  float64
}

type mathParser struct {
	src  string
	toks []token
	pos  int
}

func (p *mathParser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			p.toks = append(p.toks, token{kind: tokLParen, text: "("})
			i++
		case c == ')':
			p.toks = append(p.toks, token{kind: tokRParen, text: ")"})
			i++
		case c == '$':
			j := i + 1
			var name string
			if j < len(s) && s[j] == '{' {
				end := strings.IndexByte(s[j:], '}')
				if end < 0 {
					return fmt.Errorf("unclosed ${ in %q", s)
				}
				name = s[j+1 : j+end]
				j += end + 1
			} else {
				for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
					j++
				}
				name = s[i+1 : j]
			}
			if name == "" {
				return fmt.Errorf("empty variable in %q", s)
			}
			p.toks = append(p.toks, token{kind: tokVar, text: name})
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			f, err := strconv.ParseFloat(s[i:j], 64)
			if err != nil {
				return fmt.Errorf("bad number %q in %q", s[i:j], s)
			}
			p.toks = append(p.toks, token{kind: tokNum, text: s[i:j], num: f})
			i = j
		default:
			op := ""
			for _, cand := range []string{"**", "&&", "||", "==", "!=", ">=", "<=", ">", "<", "+", "-", "*", "/", "%", "!"} {
				if strings.HasPrefix(s[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				return fmt.Errorf("unexpected character %q in %q (functions are not evaluated by this host)", c, s)
			}
			p.toks = append(p.toks, token{kind: tokOp, text: op})
			i += len(op)
		}
	}
	return nil
}

type mathNode struct {
	op          string // "" for a leaf
	left, right *mathNode
	unary       bool
	leaf        token
}

func (p *mathParser) peekOp(ops ...string) (string, bool) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokOp {
		return "", false
	}
	for _, o := range ops {
		if p.toks[p.pos].text == o {
			return o, true
		}
	}
	return "", false
}

// The precedence of Grafana's math expressions: || < && < comparisons < + - < * / % < **.
func (p *mathParser) binary(next func() (*mathNode, error), ops ...string) (*mathNode, error) {
	left, err := next()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.peekOp(ops...)
		if !ok {
			return left, nil
		}
		p.pos++
		right, err := next()
		if err != nil {
			return nil, err
		}
		left = &mathNode{op: op, left: left, right: right}
	}
}

func (p *mathParser) parseOr() (*mathNode, error)  { return p.binary(p.parseAnd, "||") }
func (p *mathParser) parseAnd() (*mathNode, error) { return p.binary(p.parseCmp, "&&") }
func (p *mathParser) parseCmp() (*mathNode, error) {
	return p.binary(p.parseAdd, "==", "!=", ">=", "<=", ">", "<")
}
func (p *mathParser) parseAdd() (*mathNode, error) { return p.binary(p.parseMul, "+", "-") }
func (p *mathParser) parseMul() (*mathNode, error) { return p.binary(p.parsePow, "*", "/", "%") }
func (p *mathParser) parsePow() (*mathNode, error) { return p.binary(p.parseUnary, "**") }

func (p *mathParser) parseUnary() (*mathNode, error) {
	if op, ok := p.peekOp("!", "-"); ok {
		p.pos++
		arg, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &mathNode{op: op, unary: true, left: arg}, nil
	}
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of %q", p.src)
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case tokNum, tokVar:
		return &mathNode{leaf: t}, nil
	case tokLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokRParen {
			return nil, fmt.Errorf("missing ) in %q", p.src)
		}
		p.pos++
		return n, nil
	}
	return nil, fmt.Errorf("unexpected %q in %q", t.text, p.src)
}

type mathEval struct {
	vars    map[string]Results
	dropped int
}

func (e *mathEval) walk(n *mathNode) (Results, error) {
	switch {
	case n.op == "":
		if n.leaf.kind == tokNum {
			f := n.leaf.num
			return Results{Values: []Value{Scalar{Value: &f}}}, nil
		}
		r, ok := e.vars[n.leaf.text]
		if !ok {
			return Results{}, fmt.Errorf("no result for $%s", n.leaf.text)
		}
		return r, nil
	case n.unary:
		a, err := e.walk(n.left)
		if err != nil {
			return Results{}, err
		}
		var out Results
		for _, v := range a.Values {
			out.Values = append(out.Values, mapValue(v, func(f float64) float64 { return unaryOp(n.op, f) }))
		}
		return out, nil
	}
	a, err := e.walk(n.left)
	if err != nil {
		return Results{}, err
	}
	b, err := e.walk(n.right)
	if err != nil {
		return Results{}, err
	}
	var out Results
	for _, u := range e.union(a, b) {
		v, err := binaryValue(n.op, u.labels, u.a, u.b)
		if err != nil {
			return Results{}, err
		}
		out.Values = append(out.Values, v)
	}
	return out, nil
}

func mapValue(v Value, f func(float64) float64) Value {
	apply := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		r := f(*p)
		return &r
	}
	switch x := v.(type) {
	case Scalar:
		return Scalar{Value: apply(x.Value)}
	case Number:
		return Number{Labels: x.Labels, Value: apply(x.Value)}
	case Series:
		s := Series{Labels: x.Labels, Times: x.Times}
		for _, p := range x.Values {
			s.Values = append(s.Values, apply(p))
		}
		return s
	}
	return v
}

func unaryOp(op string, a float64) float64 {
	if math.IsNaN(a) {
		return math.NaN()
	}
	if op == "!" {
		if a == 0 {
			return 1
		}
		return 0
	}
	return -a
}

type union struct {
	labels data.Labels
	a, b   Value
}

// union pairs the values of two results: equal labels, or one side without labels, or one
// label set containing the other (the bigger set is kept); anything else is dropped. A lone
// value on each side is paired whatever its labels.
func (e *mathEval) union(a, b Results) []union {
	var out []union
	if len(a.Values) == 0 || len(b.Values) == 0 {
		return out
	}
	if len(a.Values) == 1 || len(b.Values) == 1 {
		_, aNo := a.Values[0].(NoData)
		_, bNo := b.Values[0].(NoData)
		if aNo || bNo {
			return []union{{a: a.Values[0], b: b.Values[0]}}
		}
	}
	aMatched := make([]bool, len(a.Values))
	bMatched := make([]bool, len(b.Values))
	for i, av := range a.Values {
		for j, bv := range b.Values {
			al, bl := av.GetLabels(), bv.GetLabels()
			var labels data.Labels
			switch {
			case al.Equals(bl) || len(al) == 0 || len(bl) == 0:
				labels = al
				if len(al) == 0 {
					labels = bl
				}
			case len(al) == len(bl):
				continue
			case al.Contains(bl):
				labels = al
			case bl.Contains(al):
				labels = bl
			default:
				continue
			}
			out = append(out, union{labels: labels, a: av, b: bv})
			aMatched[i], bMatched[j] = true, true
		}
	}
	if len(out) == 0 && len(a.Values) == 1 && len(b.Values) == 1 {
		return []union{{a: a.Values[0], b: b.Values[0]}}
	}
	for i, m := range aMatched {
		if _, no := a.Values[i].(NoData); !m && !no {
			e.dropped++
		}
	}
	for j, m := range bMatched {
		if _, no := b.Values[j].(NoData); !m && !no {
			e.dropped++
		}
	}
	return out
}

func binaryValue(op string, labels data.Labels, a, b Value) (Value, error) {
	if _, ok := a.(NoData); ok {
		return a, nil
	}
	if _, ok := b.(NoData); ok {
		return b, nil
	}
	scalarOf := func(v Value) (*float64, bool) {
		switch x := v.(type) {
		case Scalar:
			return x.Value, true
		case Number:
			return x.Value, true
		}
		return nil, false
	}
	both := func(x, y *float64) *float64 {
		if x == nil || y == nil {
			return nil
		}
		r := binaryOp(op, *x, *y)
		return &r
	}
	as, aIsSeries := a.(Series)
	bs, bIsSeries := b.(Series)
	switch {
	case !aIsSeries && !bIsSeries:
		x, _ := scalarOf(a)
		y, _ := scalarOf(b)
		_, aScalar := a.(Scalar)
		_, bScalar := b.(Scalar)
		if aScalar && bScalar {
			return Scalar{Value: both(x, y)}, nil
		}
		return Number{Labels: labels, Value: both(x, y)}, nil
	case aIsSeries && bIsSeries:
		bAt := map[int64]*float64{}
		for i, t := range bs.Times {
			bAt[t.UnixNano()] = bs.Values[i]
		}
		s := Series{Labels: labels}
		for i, t := range as.Times {
			y, ok := bAt[t.UnixNano()]
			if !ok {
				continue
			}
			s.Times = append(s.Times, t)
			s.Values = append(s.Values, both(as.Values[i], y))
		}
		return s, nil
	case aIsSeries:
		y, _ := scalarOf(b)
		s := Series{Labels: labels, Times: as.Times}
		for _, x := range as.Values {
			s.Values = append(s.Values, both(x, y))
		}
		return s, nil
	default:
		x, _ := scalarOf(a)
		s := Series{Labels: labels, Times: bs.Times}
		for _, y := range bs.Values {
			s.Values = append(s.Values, both(x, y))
		}
		return s, nil
	}
}

func binaryOp(op string, a, b float64) float64 {
	// && and || decide on the left operand before NaN is looked at, as Grafana does.
	switch op {
	case "||":
		if a != 0 {
			return 1
		}
	case "&&":
		if a == 0 {
			return 0
		}
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	truth := func(c bool) float64 {
		if c {
			return 1
		}
		return 0
	}
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	case "%":
		return math.Mod(a, b)
	case "**":
		return math.Pow(a, b)
	case "==":
		return truth(a == b)
	case "!=":
		return truth(a != b)
	case ">":
		return truth(a > b)
	case "<":
		return truth(a < b)
	case ">=":
		return truth(a >= b)
	case "<=":
		return truth(a <= b)
	case "||":
		return truth(a != 0 || b != 0)
	case "&&":
		return truth(a != 0 && b != 0)
	}
	return math.NaN()
}

// Instance is one alert instance of a rule's condition.
type Instance struct {
	Labels data.Labels
	// Value is nil for no data.
	Value *float64
}

// ConditionInstances judges a condition's result as Grafana's alerting does: every value
// must be reduced (a number, one per alert instance), and no two may share a label set.
func ConditionInstances(res Results) ([]Instance, error) {
	var out []Instance
	for _, v := range res.Values {
		switch x := v.(type) {
		case Number:
			out = append(out, Instance{Labels: x.Labels, Value: x.Value})
		case Scalar:
			out = append(out, Instance{Value: x.Value})
		case NoData:
		case Series:
			return nil, fmt.Errorf("invalid format of evaluation results for the alert definition %s: looks like time series data, only reduced data can be alerted on", x.Labels)
		}
	}
	seen := map[string]bool{}
	for _, in := range out {
		k := in.Labels.String()
		if seen[k] {
			return nil, fmt.Errorf("invalid format of evaluation results for the alert definition: frame cannot uniquely be identified by its labels: has duplicate results with labels {%s}", k)
		}
		seen[k] = true
	}
	return out, nil
}
