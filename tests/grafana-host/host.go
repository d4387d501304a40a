package grafanahost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/backend/useragent"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// GrafanaVersion is the version this host claims to be (GF_VERSION, the user agent).
const GrafanaVersion = "12.3.0"

// SyncBuffer is a bytes.Buffer safe for the writer goroutines of go-plugin.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Plugin is the plugin process as Grafana's plugin host holds it: a go-plugin client with
// the SDK's gRPC clients dispensed from it.
type Plugin struct {
	client      *goplugin.Client
	cmd         *exec.Cmd
	Data        grpcplugin.DataClient
	Diagnostics grpcplugin.DiagnosticsClient
	Resource    grpcplugin.ResourceClient
	// Stderr is the plugin's raw stderr; HostLog is what go-plugin itself logged (it re-logs
	// the plugin's JSON lines and reports its own events, such as a forced kill).
	Stderr  *SyncBuffer
	HostLog *SyncBuffer
	// Version is the plugin's version from its plugin.json, which Grafana repeats in every
	// request's context.
	Version string
}

// PluginEnv is the environment Grafana's plugin host gives a backend plugin process
// (pkg/services/pluginsintegration/pluginconfig/envvars.go): GF_VERSION, the licensing
// variables, each key of grafana.ini's [plugin.<id>] section as GF_PLUGIN_<KEY>, and,
// because Grafana 12.4+ does not pass its own environment on, only the proxy variables from
// the host. go-plugin adds the magic cookie and its PLUGIN_* variables itself.
func PluginEnv(pluginSettings map[string]string) []string {
	env := []string{
		"GF_VERSION=" + GrafanaVersion,
		"GF_EDITION=oss",
		"GF_ENTERPRISE_LICENSE_PATH=",
		"GF_ENTERPRISE_APP_URL=",
	}
	for k, v := range pluginSettings {
		env = append(env, "GF_PLUGIN_"+strings.ToUpper(k)+"="+v)
	}
	for _, k := range []string{"PLUGIN_UNIX_SOCKET_DIR", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// LaunchPlugin starts the plugin binary the way Grafana's grpcplugin client does: the SDK's
// handshake (protocol 2, cookie grafana_plugin_type=datasource), gRPC only, no host
// environment, the v2 plugin set, and the version negotiated checked.
func LaunchPlugin(path string, env []string) (*Plugin, error) {
	p := &Plugin{Stderr: &SyncBuffer{}, HostLog: &SyncBuffer{}}
	p.cmd = exec.Command(path)
	p.cmd.Env = env
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "plugin." + PluginID,
		Output: p.HostLog,
		Level:  hclog.Trace,
	})
	p.client = goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: p.cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
				"stream":      &grpcplugin.StreamGRPCPlugin{},
				"admission":   &grpcplugin.AdmissionGRPCPlugin{},
				"conversion":  &grpcplugin.ConversionGRPCPlugin{},
			},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		SkipHostEnv:      true,
		Logger:           logger,
		Stderr:           p.Stderr,
		StartTimeout:     30 * time.Second,
	})
	rpc, err := p.client.Client()
	if err != nil {
		p.client.Kill()
		return nil, fmt.Errorf("go-plugin could not start %s: %w", path, err)
	}
	if v := p.client.NegotiatedVersion(); v != grpcplugin.ProtocolVersion {
		p.client.Kill()
		return nil, fmt.Errorf("negotiated plugin protocol %d, Grafana needs %d", v, grpcplugin.ProtocolVersion)
	}
	if p.client.Protocol() != goplugin.ProtocolGRPC {
		p.client.Kill()
		return nil, fmt.Errorf("plugin speaks %s, Grafana allows only grpc", p.client.Protocol())
	}
	dispense := func(name string) (any, error) {
		raw, err := rpc.Dispense(name)
		if err != nil {
			return nil, fmt.Errorf("dispense %s: %w", name, err)
		}
		return raw, nil
	}
	var ok bool
	raw, err := dispense("data")
	if err != nil {
		p.client.Kill()
		return nil, err
	}
	if p.Data, ok = raw.(grpcplugin.DataClient); !ok {
		p.client.Kill()
		return nil, errors.New("data is not a grpcplugin.DataClient")
	}
	if raw, err = dispense("diagnostics"); err != nil {
		p.client.Kill()
		return nil, err
	}
	if p.Diagnostics, ok = raw.(grpcplugin.DiagnosticsClient); !ok {
		p.client.Kill()
		return nil, errors.New("diagnostics is not a grpcplugin.DiagnosticsClient")
	}
	if raw, err = dispense("resource"); err != nil {
		p.client.Kill()
		return nil, err
	}
	if p.Resource, ok = raw.(grpcplugin.ResourceClient); !ok {
		p.client.Kill()
		return nil, errors.New("resource is not a grpcplugin.ResourceClient")
	}
	return p, nil
}

// KillResult is how the plugin ended when Grafana stopped it.
type KillResult struct {
	Took time.Duration
	// State is the process's exit state (nil if go-plugin never saw the exit).
	State *os.ProcessState
	// Forced is go-plugin's own verdict: it logged "plugin failed to exit gracefully" and
	// killed the process.
	Forced bool
}

// SIGKILLed says whether the process died of SIGKILL rather than exiting by itself.
func (k KillResult) SIGKILLed() bool {
	if k.State == nil {
		return false
	}
	ws, ok := k.State.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func (k KillResult) String() string {
	state := "unknown exit"
	if k.State != nil {
		state = k.State.String()
	}
	return fmt.Sprintf("stopped in %s, %s, forced by go-plugin: %t", k.Took.Round(time.Millisecond), state, k.Forced)
}

// Kill is Grafana's Stop: go-plugin's Kill, which calls plugin.GRPCController/Shutdown, waits
// up to 2 s for the process to exit and then kills it.
func (p *Plugin) Kill() KillResult {
	start := time.Now()
	p.client.Kill()
	took := time.Since(start)
	return KillResult{
		Took:   took,
		State:  p.cmd.ProcessState,
		Forced: strings.Contains(p.HostLog.String(), "plugin failed to exit gracefully"),
	}
}

func (p *Plugin) Exited() bool { return p.client.Exited() }

// DataSource is one configured AWX data source, as Grafana hands it to the plugin.
type DataSource struct {
	UID      string
	Name     string
	URL      string
	JSONData []byte
	Secure   map[string]string
	Updated  time.Time
}

func (ds DataSource) settings() *backend.DataSourceInstanceSettings {
	return &backend.DataSourceInstanceSettings{
		ID:                      1,
		UID:                     ds.UID,
		Type:                    PluginID,
		Name:                    ds.Name,
		URL:                     ds.URL,
		JSONData:                ds.JSONData,
		DecryptedSecureJSONData: ds.Secure,
		Updated:                 ds.Updated,
	}
}

// Caller is who a request is made for: a signed-in user (panels, variables) or the alerting
// engine, which evaluates rules with no user.
type Caller int

const (
	UserCaller Caller = iota
	AlertingCaller
)

// PluginContext is the context Grafana's plugin context provider builds for a request.
func (p *Plugin) PluginContext(ds DataSource, caller Caller) backend.PluginContext {
	ua, _ := useragent.New(GrafanaVersion, runtime.GOOS, runtime.GOARCH)
	pc := backend.PluginContext{
		OrgID:                      1,
		PluginID:                   PluginID,
		PluginVersion:              p.Version,
		DataSourceInstanceSettings: ds.settings(),
		GrafanaConfig: backend.NewGrafanaCfg(map[string]string{
			"GF_APP_URL":                               "http://localhost:3000/",
			"GF_CONCURRENT_QUERY_COUNT":                "10",
			"GF_USER_FACING_DEFAULT_ERROR":             "An error occurred within the plugin",
			"GF_RESPONSE_LIMIT":                        "0",
			"GF_SQL_ROW_LIMIT":                         "1000000",
			"GF_SQL_MAX_OPEN_CONNS_DEFAULT":            "100",
			"GF_SQL_MAX_IDLE_CONNS_DEFAULT":            "100",
			"GF_SQL_MAX_CONN_LIFETIME_SECONDS_DEFAULT": "14400",
		}),
		UserAgent: ua,
	}
	if caller == UserCaller {
		pc.User = &backend.User{Login: "admin", Name: "admin", Email: "admin@localhost", Role: "Admin"}
	}
	return pc
}

// Query is one DataQuery as Grafana builds it: the model JSON (with Grafana's own keys), the
// absolute time range, the interval and the maximum number of points.
type Query struct {
	RefID         string
	Model         map[string]any
	From, To      time.Time
	Interval      time.Duration
	MaxDataPoints int64
}

func (q Query) toBackend(dsUID string) (backend.DataQuery, error) {
	model := map[string]any{}
	for k, v := range q.Model {
		model[k] = v
	}
	model["refId"] = q.RefID
	model["datasource"] = map[string]any{"type": PluginID, "uid": dsUID}
	if _, ok := model["intervalMs"]; !ok {
		model["intervalMs"] = q.Interval.Milliseconds()
	}
	if _, ok := model["maxDataPoints"]; !ok {
		model["maxDataPoints"] = q.MaxDataPoints
	}
	raw, err := json.Marshal(model)
	if err != nil {
		return backend.DataQuery{}, err
	}
	qt, _ := model["queryType"].(string)
	return backend.DataQuery{
		RefID:         q.RefID,
		QueryType:     qt,
		MaxDataPoints: q.MaxDataPoints,
		Interval:      q.Interval,
		TimeRange:     backend.TimeRange{From: q.From, To: q.To},
		JSON:          raw,
	}, nil
}

// QueryData sends one request over gRPC exactly as Grafana's client does (SDK types converted
// with ToProto) and converts the answer with FromProto, which decodes every Arrow frame.
func (p *Plugin) QueryData(ctx context.Context, ds DataSource, caller Caller, queries []Query) (*backend.QueryDataResponse, error) {
	req := &backend.QueryDataRequest{
		PluginContext: p.PluginContext(ds, caller),
		Headers:       map[string]string{},
	}
	for _, q := range queries {
		dq, err := q.toBackend(ds.UID)
		if err != nil {
			return nil, err
		}
		req.Queries = append(req.Queries, dq)
	}
	protoResp, err := p.Data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, fmt.Errorf("QueryData over gRPC: %w", err)
	}
	resp, err := backend.FromProto().QueryDataResponse(protoResp)
	if err != nil {
		return nil, fmt.Errorf("the SDK cannot convert the answer: %w", err)
	}
	return resp, nil
}

// CheckHealth is "Save & test".
func (p *Plugin) CheckHealth(ctx context.Context, ds DataSource) (*backend.CheckHealthResult, error) {
	// As Grafana's client builds it: the SDK has no converter for this request.
	req := &pluginv2.CheckHealthRequest{
		PluginContext: backend.ToProto().PluginContext(p.PluginContext(ds, UserCaller)),
		Headers:       map[string]string{},
	}
	resp, err := p.Diagnostics.CheckHealth(ctx, req)
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// CallResource is a GET through /api/datasources/uid/:uid/resources/<path>, collected from
// the stream the way Grafana's client does (status and headers first, then body chunks).
func (p *Plugin) CallResource(ctx context.Context, ds DataSource, path, rawQuery string) (int, []byte, error) {
	u := path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req := &backend.CallResourceRequest{
		PluginContext: p.PluginContext(ds, UserCaller),
		Path:          path,
		Method:        "GET",
		URL:           u,
		Headers:       map[string][]string{},
	}
	stream, err := p.Resource.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return 0, nil, err
	}
	status := 0
	var body []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return status, body, err
		}
		r := backend.FromProto().CallResourceResponse(msg)
		if status == 0 {
			status = r.Status
		}
		body = append(body, r.Body...)
	}
	return status, body, nil
}
