package grafanahost

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuleStep is one entry of an alert rule's data: a query of a data source, or an
// expression (datasourceUid __expr__).
type RuleStep struct {
	RefID             string         `yaml:"refId"`
	DatasourceUID     string         `yaml:"datasourceUid"`
	RelativeTimeRange *RelativeRange `yaml:"relativeTimeRange"`
	Model             map[string]any `yaml:"model"`
}

// RelativeRange is seconds before the evaluation time.
type RelativeRange struct {
	From int64 `yaml:"from"`
	To   int64 `yaml:"to"`
}

func (s RuleStep) IsExpression() bool { return s.DatasourceUID == "__expr__" }

// Rule is an alert rule as a provisioning file writes it.
type Rule struct {
	UID         string     `yaml:"uid"`
	Title       string     `yaml:"title"`
	Condition   string     `yaml:"condition"`
	NoDataState string     `yaml:"noDataState"`
	Data        []RuleStep `yaml:"data"`
	// Where is the section and line of the docs the rule comes from.
	Where string `yaml:"-"`
}

// ParseAlertingDoc reads every YAML block of docs/ALERTING.md that holds a rule's data. A
// block that shows only part of a rule (its data, say) takes its condition from its last step.
func ParseAlertingDoc(doc []byte) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(bytes.NewReader(doc))
	heading := ""
	line := 0
	var block []string
	inBlock := false
	blockStart := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case !inBlock && strings.HasPrefix(text, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(text, "#"))
		case !inBlock && strings.TrimSpace(text) == "```yaml":
			inBlock, block, blockStart = true, nil, line
		case inBlock && strings.TrimSpace(text) == "```":
			inBlock = false
			found, err := rulesOfBlock(strings.Join(block, "\n"))
			if err != nil {
				return nil, fmt.Errorf("ALERTING.md line %d: %w", blockStart, err)
			}
			for _, r := range found {
				r.Where = fmt.Sprintf("%s (line %d)", heading, blockStart)
				if r.Condition == "" && len(r.Data) > 0 {
					r.Condition = r.Data[len(r.Data)-1].RefID
				}
				rules = append(rules, r)
			}
		case inBlock:
			block = append(block, text)
		}
	}
	return rules, sc.Err()
}

func rulesOfBlock(src string) ([]Rule, error) {
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(src), &node); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(node.Content) == 0 {
		return nil, nil
	}
	root := node.Content[0]
	var candidates []*yaml.Node
	switch root.Kind {
	case yaml.SequenceNode:
		candidates = root.Content
	case yaml.MappingNode:
		candidates = []*yaml.Node{root}
	}
	var out []Rule
	for _, c := range candidates {
		var r Rule
		if err := c.Decode(&r); err != nil {
			return nil, fmt.Errorf("not an alert rule: %w", err)
		}
		if len(r.Data) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}
