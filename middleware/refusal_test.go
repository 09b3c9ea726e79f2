package middleware

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logLines decodes the JSON lines of buf.
func logLines(t *testing.T, buf *testlog.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	return lines
}

// TestRefusalFloodLogsBoundedLines floods the tenant middleware, with its
// default audit hook and a logger at the default level (Info), with 10,000
// requests for made-up, malformed and missing tenants over ten minutes:
// the log gets one summary line a minute, whose counts add up to every
// refusal, instead of a line per request.
func TestRefusalFloodLogsBoundedLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf testlog.Buffer
		old := slog.Default()
		slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
		defer slog.SetDefault(old)

		cache := NewCache(newFakeTenants(activeTenant("acme")), CacheConfig{MissesPerSecond: -1, Now: time.Now})
		h, err := Tenant(TenantConfig{Resolver: headerResolver(t), Cache: cache}) // OnRefused: the default
		require.NoError(t, err)
		h2 := h(echo)

		const flood = 10_000
		for i := range flood {
			var rec *httptest.ResponseRecorder
			switch i % 4 {
			case 0, 1:
				rec = serve(h2, "X-Tenant-ID", fmt.Sprintf("made-up-%d", i))
			case 2:
				rec = serve(h2, "X-Tenant-ID", fmt.Sprintf("BAD_%d", i))
			default:
				rec = serve(h2)
			}
			require.NotEqual(t, http.StatusOK, rec.Code)
			time.Sleep(60 * time.Millisecond) // 10,000 × 60 ms: ten minutes
		}
		time.Sleep(DefaultSummaryInterval)
		synctest.Wait()

		lines := logLines(t, &buf)
		assert.LessOrEqual(t, len(lines), 11, "at most one line a minute, and one for the end of the flood")
		assert.GreaterOrEqual(t, len(lines), 10)
		var total, notFound, invalid, missing float64
		for _, l := range lines {
			assert.Equal(t, "tenancy: requests refused", l["msg"])
			assert.Equal(t, "INFO", l["level"])
			assert.NotContains(t, l, "identifier", "no hostile input in a summary")
			total += numberOr0(l["total"])
			notFound += numberOr0(l[string(ReasonNotFound)])
			invalid += numberOr0(l[string(ReasonInvalid)])
			missing += numberOr0(l[string(ReasonMissing)])
		}
		assert.Equal(t, float64(flood), total, "every refusal is in a summary")
		assert.Equal(t, float64(flood/2), notFound)
		assert.Equal(t, float64(flood/4), invalid)
		assert.Equal(t, float64(flood/4), missing)
	})
}

func numberOr0(v any) float64 {
	f, _ := v.(float64)
	return f
}

// TestRefusalLogEachAtDebug: with the logger at debug level, each refusal
// still has its own line with everything an audit needs, besides the
// summary.
func TestRefusalLogEachAtDebug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf testlog.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		hook := LogRefusal(logger)
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		hook(req, Refusal{Reason: ReasonInvalid, Status: 400, Identifier: "BAD\n", RemoteAddr: "192.0.2.1:1234", Err: errDown})
		hook(req, Refusal{Reason: ReasonNotFound, Status: 404, TenantID: "nobody", RemoteAddr: "192.0.2.1:1234"})

		lines := logLines(t, &buf)
		require.Len(t, lines, 2, "one line per refusal before the summary")
		assert.Equal(t, "DEBUG", lines[0]["level"])
		assert.Equal(t, "invalid_identifier", lines[0]["reason"])
		assert.Equal(t, "BAD\n", lines[0]["identifier"])
		assert.Equal(t, errDown.Error(), lines[0]["error"])
		assert.Equal(t, "POST", lines[0]["method"])
		assert.Equal(t, "nobody", lines[1]["tenant"])
		assert.Equal(t, "192.0.2.1:1234", lines[1]["remote"])
		assert.EqualValues(t, 404, lines[1]["status"])

		time.Sleep(DefaultSummaryInterval)
		synctest.Wait()
		lines = logLines(t, &buf)
		require.Len(t, lines, 3)
		assert.Equal(t, "tenancy: requests refused", lines[2]["msg"])
		assert.EqualValues(t, 2, lines[2]["total"])
		assert.EqualValues(t, 1, lines[2]["invalid_identifier"])
		assert.EqualValues(t, 1, lines[2]["not_found"])
		assert.EqualValues(t, DefaultSummaryInterval, lines[2]["interval"])
	})
}

func TestRefusalLogConfig(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	tests := []struct {
		name    string
		cfg     RefusalLogConfig
		refuse  []Reason
		wait    time.Duration
		levels  []string // of the lines logged, in order
		summary map[string]float64
	}{
		{
			name: "nothing refused, nothing logged", wait: time.Hour,
		},
		{
			name: "a summary at Info", refuse: []Reason{ReasonNotFound, ReasonRateLimited, ReasonRateLimited},
			wait: time.Minute, levels: []string{"INFO"},
			summary: map[string]float64{"not_found": 1, "rate_limited": 2, "total": 3},
		},
		{
			name: "nothing before the interval is over", refuse: []Reason{ReasonNotFound},
			wait: time.Minute - time.Nanosecond,
		},
		{
			name: "Warn when the store could not be read", refuse: []Reason{ReasonNotFound, ReasonUnavailable},
			wait: time.Minute, levels: []string{"WARN"},
			summary: map[string]float64{"not_found": 1, "unavailable": 1, "total": 2},
		},
		{
			name: "a client hanging up is no outage: Info", refuse: []Reason{ReasonHungUp, ReasonNotFound},
			wait: time.Minute, levels: []string{"INFO"},
			summary: map[string]float64{"hung_up": 1, "not_found": 1, "total": 2},
		},
		{
			name: "a reason of its own counts as other", refuse: []Reason{"teapot"},
			wait: time.Minute, levels: []string{"INFO"}, summary: map[string]float64{"other": 1, "total": 1},
		},
		{
			name: "each at Warn, as an audit log", cfg: RefusalLogConfig{Level: slog.LevelWarn, Interval: -1},
			refuse: []Reason{ReasonSuspended, ReasonNotFound}, wait: time.Hour, levels: []string{"WARN", "WARN"},
		},
		{
			name: "another interval", cfg: RefusalLogConfig{Interval: time.Second}, refuse: []Reason{ReasonMissing},
			wait: time.Second, levels: []string{"INFO"}, summary: map[string]float64{"missing_identifier": 1, "total": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf testlog.Buffer
				cfg := tt.cfg
				cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
				hook := RefusalLog(cfg)
				for _, r := range tt.refuse {
					hook(req, Refusal{Reason: r, TenantID: "acme"})
				}
				time.Sleep(tt.wait)
				synctest.Wait()
				lines := logLines(t, &buf)
				require.Len(t, lines, len(tt.levels))
				for i, l := range lines {
					assert.Equal(t, tt.levels[i], l["level"])
				}
				if tt.summary != nil {
					last := lines[len(lines)-1]
					for k, v := range tt.summary {
						assert.Equal(t, v, last[k], k)
					}
				}
			})
		})
	}
}

// TestRefusalLogSummariesApart: refusals that keep coming get one summary
// per interval, each counting its own; a refusal after a quiet spell
// starts the next one.
func TestRefusalLogSummariesApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf testlog.Buffer
		hook := LogRefusal(slog.New(slog.NewJSONHandler(&buf, nil)))
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		for range 3 {
			hook(req, Refusal{Reason: ReasonNotFound})
			time.Sleep(40 * time.Second)
		}
		// t=120s: the summary at 60s counted two; the refusal at 80s
		// scheduled the next for 140s.
		synctest.Wait()
		require.Len(t, logLines(t, &buf), 1)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		lines := logLines(t, &buf)
		require.Len(t, lines, 2)
		assert.EqualValues(t, 2, lines[0]["total"])
		assert.EqualValues(t, 1, lines[1]["total"])
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Len(t, logLines(t, &buf), 2, "nothing more without refusals")
	})
}

// TestRefusalLogAllocations: at the default level a refusal allocates
// nothing, so a flood costs the log nothing per request.
func TestRefusalLogAllocations(t *testing.T) {
	hook := LogRefusal(slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	f := Refusal{Reason: ReasonNotFound, Status: 404, TenantID: "nobody", RemoteAddr: "192.0.2.1:1234"}
	hook(req, f) // schedules the summary
	assert.Zero(t, testing.AllocsPerRun(100, func() { hook(req, f) }))
}
