package grafanahost

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Every leaf check is counted, so that the suite ends with one line a reader (and
// scripts/test.sh) can take in at a glance.
var tally struct {
	sync.Mutex
	passed, failed int
	// plugin names the binary judged, for the report.
	plugin string
}

func count(ok bool) {
	tally.Lock()
	defer tally.Unlock()
	if ok {
		tally.passed++
	} else {
		tally.failed++
	}
}

// check runs one judged property as a subtest and counts its outcome.
func check(t *testing.T, name string, f func(t *testing.T)) bool {
	t.Helper()
	ok := t.Run(name, f)
	count(ok)
	return ok
}

// TestMain prints the tally last. go test shows a passing package's output only with -v, so
// the same lines also go to the file named by GRAFANA_HOST_SUMMARY, for scripts/test.sh.
func TestMain(m *testing.M) {
	code := m.Run()
	tally.Lock()
	summary := fmt.Sprintf("grafana-host: %d passed, %d failed\n", tally.passed, tally.failed)
	if tally.plugin != "" {
		summary = "grafana-host: plugin " + tally.plugin + "\n" + summary
	}
	tally.Unlock()
	fmt.Print(summary)
	if path := os.Getenv("GRAFANA_HOST_SUMMARY"); path != "" {
		if err := os.WriteFile(path, []byte(summary), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "grafana-host: cannot write %s: %v\n", path, err)
			code = 1
		}
	}
	os.Exit(code)
}
