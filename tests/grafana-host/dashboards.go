package grafanahost

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ProvisionedDataSource reads the AWX data source from provisioning/datasources/awx.yml,
// expanding $VAR and ${VAR} in its values as Grafana's provisioning does.
func ProvisionedDataSource(path string, env map[string]string, updated time.Time) (DataSource, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return DataSource{}, err
	}
	var file struct {
		Datasources []struct {
			Type           string         `yaml:"type"`
			UID            string         `yaml:"uid"`
			Name           string         `yaml:"name"`
			URL            string         `yaml:"url"`
			JSONData       map[string]any `yaml:"jsonData"`
			SecureJSONData map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return DataSource{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, d := range file.Datasources {
		if d.Type != PluginID {
			continue
		}
		jd := map[string]any{}
		for k, v := range d.JSONData {
			if s, ok := v.(string); ok {
				v = expandEnv(s, env)
			}
			jd[k] = v
		}
		jsonData, err := json.Marshal(jd)
		if err != nil {
			return DataSource{}, err
		}
		secure := map[string]string{}
		for k, v := range d.SecureJSONData {
			secure[k] = expandEnv(fmt.Sprint(v), env)
		}
		return DataSource{
			UID: d.UID, Name: d.Name, URL: expandEnv(d.URL, env),
			JSONData: jsonData, Secure: secure, Updated: updated,
		}, nil
	}
	return DataSource{}, fmt.Errorf("%s provisions no %s data source", path, PluginID)
}

var envRef = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

func expandEnv(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		return env[name]
	})
}

// DashboardQuery is one query a dashboard sends: a panel target or an annotation.
type DashboardQuery struct {
	Where string
	// Interval is the panel's minimum interval ("1h"), empty for none.
	Interval   string
	Target     map[string]any
	Annotation bool
}

// Variable is a template variable of a dashboard.
type Variable struct {
	Name       string
	Type       string
	Query      any
	IncludeAll bool
}

// Dashboard is the part of a dashboard's JSON that decides what it asks the data source.
type Dashboard struct {
	UID       string
	Title     string
	Variables []Variable
	Queries   []DashboardQuery
}

func ParseDashboard(raw []byte) (Dashboard, error) {
	var d struct {
		UID        string            `json:"uid"`
		Title      string            `json:"title"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Query      any    `json:"query"`
				IncludeAll bool   `json:"includeAll"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Name       string         `json:"name"`
				Datasource map[string]any `json:"datasource"`
				Target     map[string]any `json:"target"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Dashboard{}, err
	}
	out := Dashboard{UID: d.UID, Title: d.Title}
	for _, v := range d.Templating.List {
		out.Variables = append(out.Variables, Variable{Name: v.Name, Type: v.Type, Query: v.Query, IncludeAll: v.IncludeAll})
	}
	var walk func(panels []json.RawMessage) error
	walk = func(panels []json.RawMessage) error {
		for _, raw := range panels {
			var p struct {
				Title    string            `json:"title"`
				Interval string            `json:"interval"`
				Targets  []map[string]any  `json:"targets"`
				Panels   []json.RawMessage `json:"panels"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			for i, t := range p.Targets {
				out.Queries = append(out.Queries, DashboardQuery{
					Where: fmt.Sprintf("panel %q target %d", p.Title, i), Interval: p.Interval, Target: t,
				})
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return Dashboard{}, err
	}
	for _, a := range d.Annotations.List {
		if a.Datasource["type"] != PluginID {
			continue
		}
		out.Queries = append(out.Queries, DashboardQuery{Where: fmt.Sprintf("annotation %q", a.Name), Target: a.Target, Annotation: true})
	}
	return out, nil
}

// Interpolate replaces template variables as the data source's frontend does: in a list,
// "$var" set to All is removed (an empty list means all) and a single value replaces it.
// Unknown variables are an error.
func Interpolate(v any, vars map[string]*string) (any, error) {
	switch x := v.(type) {
	case []any:
		out := []any{}
		for _, item := range x {
			if s, ok := item.(string); ok && strings.HasPrefix(s, "$") {
				name := strings.Trim(s, "${}")
				val, known := vars[name]
				if !known {
					return nil, fmt.Errorf("unknown variable %s", s)
				}
				if val != nil {
					out = append(out, *val)
				}
				continue
			}
			iv, err := Interpolate(item, vars)
			if err != nil {
				return nil, err
			}
			out = append(out, iv)
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, item := range x {
			iv, err := Interpolate(item, vars)
			if err != nil {
				return nil, err
			}
			out[k] = iv
		}
		return out, nil
	case string:
		if strings.HasPrefix(x, "$") && x != "${ds}" && x != "$ds" {
			name := strings.Trim(x, "${}")
			if val, known := vars[name]; known {
				if val == nil {
					return "", nil
				}
				return *val, nil
			}
		}
	}
	return v, nil
}

// ParseGrafanaDuration reads a panel interval such as "1h", "30m", "10s", "1d".
func ParseGrafanaDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		d, err := time.ParseDuration(strings.TrimSuffix(s, "d") + "h")
		return d * 24, err
	}
	if strings.HasSuffix(s, "w") {
		d, err := time.ParseDuration(strings.TrimSuffix(s, "w") + "h")
		return d * 24 * 7, err
	}
	return time.ParseDuration(s)
}
