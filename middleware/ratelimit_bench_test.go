package middleware

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// rateLimitChain returns the tenant middleware (header mode, cache hit)
// and the rate limit in front of app, for two tenants: "free", without a
// limit, and "metered", whose limit is far above any load, so that every
// request is admitted from a lease.
func rateLimitChain(b *testing.B, app http.Handler) http.Handler {
	metered := activeTenant("metered")
	metered.Limits.RateLimit = 1 << 30
	withTenant, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(activeTenant("free"), metered)})
	if err != nil {
		b.Fatal(err)
	}
	limit, err := RateLimit(RateLimitConfig{Leaser: memstore.New(memstore.Config{})})
	if err != nil {
		b.Fatal(err)
	}
	return withTenant(limit(app))
}

// jsonAnswer answers like an MCP server: a small JSON-RPC result.
var jsonAnswer = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`))
})

// BenchmarkRateLimitChain serves requests of the unlimited and of the
// metered tenant through the same chain: the ratio of the two is what the
// rate limit costs a request at steady state.
func BenchmarkRateLimitChain(b *testing.B) {
	h := rateLimitChain(b, noop)
	for _, id := range []string{"free", "metered"} {
		b.Run(id, func(b *testing.B) { benchServe(b, h, id) })
	}
}

// BenchmarkRateLimitLease is the rate limit alone, for a request whose
// tenant is already in its context: a request admitted from the lease.
func BenchmarkRateLimitLease(b *testing.B) {
	mw, err := RateLimit(RateLimitConfig{Leaser: memstore.New(memstore.Config{})})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	req := limitedRequest(&tenant.Tenant{ID: "acme", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: 1 << 30}})
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkRateLimitServer is BenchmarkRateLimitChain through a real HTTP
// server on loopback: the requests per second a server makes, for the
// unlimited and the metered tenant, behind the bare handler (which sets no
// header, so the rate limit's three are the only ones in the map) and
// behind a handler that answers JSON as an MCP server does. The client,
// like wrk, writes raw requests on one keep-alive connection and skips the
// answers without parsing their headers, so that the time measured is the
// server's.
func BenchmarkRateLimitServer(b *testing.B) {
	for _, app := range []struct {
		name string
		h    http.Handler
	}{{"bare", noop}, {"json", jsonAnswer}} {
		srv := httptest.NewServer(rateLimitChain(b, app.h))
		for _, id := range []string{"free", "metered"} {
			b.Run(app.name+"/"+id, func(b *testing.B) { benchRawClient(b, srv.Listener.Addr().String(), id) })
		}
		srv.Close()
	}
}

// benchRawClient sends requests of tenant id to addr, each after the
// answer to the one before.
func benchRawClient(b *testing.B, addr, id string) {
	c := dialRaw(b, addr, id)
	b.ReportAllocs()
	for b.Loop() {
		c.do(b)
	}
}

// BenchmarkRateLimitServerVs is BenchmarkRateLimitServer with three
// servers in alternating batches, the order rotated every batch, so that
// all three meet the same load of the machine within a millisecond: the
// app alone ("bare"), and the tenant middleware and the rate limit in
// front of it, for the unlimited ("free") and the metered tenant. It
// reports the µs per request of each, the throughput ratios metered / free
// ("throughput-ratio") and free / bare ("tenant-throughput-ratio") over
// every batch, and the same ratios of the median batches ("p50-...").
// Client and server share the machine, so the client's work is in every
// figure and brings each ratio closer to 1 than the servers' alone.
func BenchmarkRateLimitServerVs(b *testing.B) {
	for _, app := range []struct {
		name string
		h    http.Handler
	}{{"bare", noop}, {"json", jsonAnswer}} {
		bare := httptest.NewServer(app.h)
		srv := httptest.NewServer(rateLimitChain(b, app.h))
		b.Run(app.name, func(b *testing.B) {
			addr := srv.Listener.Addr().String()
			clients := [3]*rawClient{
				dialRaw(b, addr, "free"), dialRaw(b, addr, "metered"), dialRaw(b, bare.Listener.Addr().String(), "free"),
			}
			const batch = 20
			var total [3]time.Duration
			var lat [3][]time.Duration
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				n++
				for k := range 3 {
					i := (k + n) % 3
					start := time.Now()
					for range batch {
						clients[i].do(b)
					}
					d := time.Since(start)
					total[i] += d
					lat[i] = append(lat[i], d)
				}
			}
			requests := float64(n * batch)
			b.ReportMetric(float64(total[0].Microseconds())/requests, "free-µs/req")
			b.ReportMetric(float64(total[1].Microseconds())/requests, "metered-µs/req")
			b.ReportMetric(float64(total[2].Microseconds())/requests, "bare-µs/req")
			b.ReportMetric(float64(total[0])/float64(total[1]), "throughput-ratio")
			b.ReportMetric(float64(total[2])/float64(total[0]), "tenant-throughput-ratio")
			for i := range lat {
				slices.Sort(lat[i])
			}
			p50 := func(i int) float64 { return float64(lat[i][len(lat[i])/2]) }
			b.ReportMetric(p50(0)/p50(1), "p50-throughput-ratio")
			b.ReportMetric(p50(2)/p50(0), "p50-tenant-throughput-ratio")
		})
		srv.Close()
		bare.Close()
	}
}

// rawClient writes raw requests of one tenant on one keep-alive
// connection and skips the answers without parsing their headers.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

func dialRaw(b *testing.B, addr, id string) *rawClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return &rawClient{conn: conn, r: bufio.NewReader(conn), req: []byte("GET /mcp HTTP/1.1\r\nHost: bench\r\nX-Tenant-ID: " + id + "\r\n\r\n")}
}

// do sends one request and reads its answer, which must be a 200.
func (c *rawClient) do(b *testing.B) {
	if _, err := c.conn.Write(c.req); err != nil {
		b.Fatal(err)
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		b.Fatalf("answer %q: %v", status, err)
	}
	length := 0
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) == 2 {
			break
		}
		if n, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(n)))
		}
	}
	if _, err := c.r.Discard(length); err != nil {
		b.Fatal(err)
	}
}
