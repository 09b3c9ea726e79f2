package main

import (
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// TestChecks runs the workers' requests against a double of the example
// server (the library's tenant middleware, admin API, metadata, bearer
// check and OAuth authorization server, wired as examples/server wires
// them, and a minimal MCP endpoint with whoami) on miniredis. Faithful,
// every answer is expected and none is a cross-tenant answer, including
// the 404 of authorize for a tenant without an upstream client and the
// 429 of the registration limit. Then a leak is injected in front of it,
// one kind at a time (an answer of one tenant carrying the next tenant's
// ID, or a request served by the tenant a client or a token belongs to
// instead of the one it was sent to), and the check of that answer must
// report a cross-tenant answer. Refusals injected where none is due must
// count as unexpected answers, never as leaks.
func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(ts []loadTenant) func(http.Handler) http.Handler
		leak   string // what a cross-tenant answer must say; "" for none
		// unexpected is the kind and status of unexpected answers an
		// injected refusal must cause.
		unexpected string
	}{
		{name: "faithful"},
		{"metadata of the next tenant", renameIn(func(r *http.Request, _ int) bool {
			return strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource/")
		}), ": metadata ", ""},
		{"whoami of the next tenant", renameIn(func(r *http.Request, status int) bool {
			return mcpPath(r) && status == http.StatusOK
		}), ": whoami ", ""},
		{"401 challenge of the next tenant", renameIn(func(r *http.Request, status int) bool {
			return mcpPath(r) && status == http.StatusUnauthorized
		}), ": 401 challenge ", ""},
		{"consent page of the next tenant", renameIn(func(r *http.Request, _ int) bool {
			return strings.HasSuffix(r.URL.Path, "/oauth/authorize") && r.Method == http.MethodGet
		}), ": consent page ", ""},
		{"approval as the next tenant's upstream client", renameIn(func(r *http.Request, _ int) bool {
			return strings.HasSuffix(r.URL.Path, "/oauth/authorize") && r.Method == http.MethodPost
		}), ": approval sends the browser to ", ""},
		{"callback naming the next tenant", renameIn(func(r *http.Request, _ int) bool {
			return strings.HasSuffix(r.URL.Path, "/oauth/callback")
		}), ": callback sends the client ", ""},
		{"client served by its own tenant wherever it is presented", routeByClient, "'s client on ", ""},
		{"token served by its own tenant wherever it is presented", routeByToken, "'s login token accepted by ", ""},
		{"404 for a tenant", refuseFor("t0002", http.StatusNotFound), "", "metadata 404"},
		{"429 on a registration within the limit", refuseFor("/oauth/register", http.StatusTooManyRequests), "", "register 429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, c, ts := startDouble(t, tc.inject)
			w := &worker{c: c, ts: ts, rnd: rand.New(rand.NewPCG(1, 2)), clients: map[string][]string{}}
			ctx := t.Context()
			for range 4 {
				for _, tn := range ts {
					w.metadata(ctx, tn)
					w.session(ctx, tn, tn.token, "user-"+tn.id)
					w.login(ctx, tn)
				}
			}
			// More registrations at one tenant than the limit admits: with
			// the four of its logins, 9 over the limit.
			for range oauthproxy.DefaultRegistrationsPerMinute + 5 {
				w.register(ctx, ts[5])
			}
			w.flush()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			kinds := map[string]int{}
			bad := map[string]int{}
			for _, ev := range rec.events {
				kinds[ev.kind]++
				if !ev.ok {
					bad[fmt.Sprintf("%s %d", ev.kind, ev.status)]++
				}
			}
			switch {
			case tc.name == "faithful":
				assert.Empty(t, rec.crosses)
				assert.Empty(t, bad, "unexpected answers")
				for _, k := range []string{kindMeta, kindInit, kindNotify, kindCall, kindDelete, kindRegister, kindAuthorize,
					kindAuthorizeOff, kindApprove, kindIdP, kindCallback, kindToken, kindRevoke, kindForeign, kindForeignToken} {
					assert.Positive(t, kinds[k], "requests of kind %s", k)
				}
				n429 := 0
				for _, ev := range rec.events {
					if ev.kind == kindRegister && ev.status == http.StatusTooManyRequests {
						n429++
					}
				}
				assert.Equal(t, 9, n429, "registrations over the limit")
			case tc.leak == "":
				assert.Empty(t, rec.crosses, "a refusal is not a cross-tenant answer")
				assert.Positive(t, bad[tc.unexpected], "the refusals are unexpected answers: %v", bad)
			default:
				require.NotEmpty(t, rec.crosses, "the injected leak was not reported")
				for _, cr := range rec.crosses {
					assert.Contains(t, cr, tc.leak)
				}
			}
		})
	}
}

// startDouble starts the double of the example server in path mode, with
// inject (if not nil) in front of it, creates eight tenants on two
// providers through its admin API and returns the client of a run.
func startDouble(t *testing.T, inject func([]loadTenant) func(http.Handler) http.Handler) (*recorder, *client, []loadTenant) {
	t.Helper()
	idps := []*oidctest.Server{oidctest.New(t), oidctest.New(t)}
	var ts []loadTenant
	for i := range 8 {
		subject := fmt.Sprintf("idp%d-user", i%2)
		idps[i%2].SetSubject(subject)
		ts = append(ts, makeTenant(i, idps[i%2], subject))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	h := newDouble(t, base)
	if inject != nil {
		h = inject(ts)(h)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	rec := newRecorder()
	c := newClient(base, rec, 4)
	t.Cleanup(c.http.CloseIdleConnections)
	for _, tn := range ts {
		if tn.proxied() {
			tn.idp.RegisterClient(tn.upstreamClient(base))
		}
	}
	require.NoError(t, c.createTenants(t.Context(), ts))
	return rec, c, ts
}

// newDouble returns the double of the example server at base.
func newDouble(t *testing.T, base string) http.Handler {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ring, err := keyring.Parse(encryptionKey)
	require.NoError(t, err)
	quiet := slog.New(slog.DiscardHandler)
	svc, err := tenancy.New(tenancy.Config{
		Redis: rdb, MultiTenant: true, Identification: tenancy.ByPath, AdminAPIKey: adminKey, EncryptionKeys: ring,
		OIDC: oidcx.Config{InsecureAllowLoopback: true}, Logger: quiet,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	urls, err := svc.URLs(base)
	require.NoError(t, err)
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls, Logger: quiet})
	require.NoError(t, err)
	proxy, err := svc.OAuthProxy(oauthproxy.Config{URLs: urls, Logger: quiet})
	require.NoError(t, err)
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, AuthorizationServers: proxy.AuthorizationServers, Logger: quiet})
	require.NoError(t, err)
	scoped := http.NewServeMux()
	scoped.Handle("/oauth/", proxy)
	scoped.Handle("/mcp", bearer(&mcpDouble{sessions: map[string]string{}}))
	mux := http.NewServeMux()
	mux.Handle("/admin/", svc.Admin())
	mux.Handle(svc.MetadataRoute(meta))
	mux.Handle("/", svc.Middleware(scoped))
	return mux
}

// mcpDouble is an MCP endpoint of the Streamable HTTP transport with
// JSON answers and one tool, whoami, whose sessions belong to the tenant
// and the subject that opened them, as the example server's do.
type mcpDouble struct {
	mu       sync.Mutex
	sessions map[string]string // session ID: tenant and subject
}

func (m *mcpDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tn, _ := tenant.FromContext(r.Context())
	claims, _ := oidcx.ClaimsFromContext(r.Context())
	if tn == nil || claims == nil {
		http.Error(w, "no tenant or caller", http.StatusInternalServerError)
		return
	}
	owner := tn.ID + "\x00" + claims.Subject
	id := r.Header.Get("Mcp-Session-Id")
	m.mu.Lock()
	known := id != "" && m.sessions[id] == owner
	if known && r.Method == http.MethodDelete {
		delete(m.sessions, id)
	}
	m.mu.Unlock()
	var msg struct{ Method string }
	if r.Method == http.MethodPost && json.NewDecoder(r.Body).Decode(&msg) != nil {
		http.Error(w, "not JSON-RPC", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case id == "" && msg.Method == "initialize":
		id = crand.Text()
		m.mu.Lock()
		m.sessions[id] = owner
		m.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", id)
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"double","version":"1"}}}`)
	case !known:
		http.Error(w, "unknown session", http.StatusNotFound)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case msg.Method == "notifications/initialized":
		w.WriteHeader(http.StatusAccepted)
	case msg.Method == "tools/call":
		out, _ := json.Marshal(map[string]string{"tenant": tn.ID, "subject": claims.Subject})
		_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":2,"result":{"content":[],"structuredContent":%s}}`, out)
	default:
		http.Error(w, "unknown method", http.StatusBadRequest)
	}
}

// mcpPath reports whether r is sent to a tenant's MCP endpoint, not to its
// metadata.
func mcpPath(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/mcp") && !strings.HasPrefix(r.URL.Path, "/.well-known/")
}

var tenantID = regexp.MustCompile(`t[0-9]{4}`)

// renameIn returns an injection that, in the answers to the requests
// match selects, names the next tenant wherever a tenant's ID appears
// (body, Location, WWW-Authenticate): the answer of one tenant carries
// another's data.
func renameIn(match func(r *http.Request, status int) bool) func([]loadTenant) func(http.Handler) http.Handler {
	return func(ts []loadTenant) func(http.Handler) http.Handler {
		next := func(id string) string {
			n, _ := strconv.Atoi(id[1:])
			return ts[(n+1)%len(ts)].id
		}
		rename := func(s string) string { return tenantID.ReplaceAllStringFunc(s, next) }
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				body := rec.Body.String()
				if match(r, rec.Code) {
					body = rename(body)
					for _, k := range []string{"Location", "WWW-Authenticate"} {
						if v := rec.Header().Get(k); v != "" {
							rec.Header().Set(k, rename(v))
						}
					}
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				w.WriteHeader(rec.Code)
				_, _ = io.WriteString(w, body)
			})
		}
	}
}

// routeByClient is an injection that serves an authorization request at
// the tenant that registered its client, whichever tenant it was sent
// to: a client of one tenant is accepted by every other.
func routeByClient([]loadTenant) func(http.Handler) http.Handler {
	var mu sync.Mutex
	home := map[string]string{} // client ID: tenant
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			switch rest {
			case "oauth/register":
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				var reg struct {
					ClientID string `json:"client_id"`
				}
				if json.Unmarshal(rec.Body.Bytes(), &reg) == nil && reg.ClientID != "" {
					mu.Lock()
					home[reg.ClientID] = id
					mu.Unlock()
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			case "oauth/authorize":
				mu.Lock()
				owner := home[r.URL.Query().Get("client_id")]
				mu.Unlock()
				if owner != "" && owner != id {
					r.URL.Path = "/" + owner + "/" + rest
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

// routeByToken is an injection that serves an MCP request at the tenant
// whose audience its token carries ("aud-<id>"), whichever tenant it was
// sent to: a token of one tenant is accepted by every other.
func routeByToken([]loadTenant) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && rest == "mcp" {
				parts := strings.Split(tok, ".")
				var claims struct {
					Aud any `json:"aud"`
				}
				if len(parts) == 3 {
					if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(payload, &claims) == nil {
						if aud, ok := claims.Aud.(string); ok && strings.HasPrefix(aud, "aud-") && aud != "aud-"+id {
							r.URL.Path = "/" + strings.TrimPrefix(aud, "aud-") + "/mcp"
						}
					}
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

// refuseFor is an injection that answers every request whose path
// contains part with status (and Retry-After), as a server refusing
// where no refusal is due.
func refuseFor(part string, status int) func([]loadTenant) func(http.Handler) http.Handler {
	return func([]loadTenant) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.URL.Path, part) || strings.HasPrefix(r.URL.Path, "/admin/") {
					h.ServeHTTP(w, r)
					return
				}
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"error":"too_many_requests"}`)
			})
		}
	}
}
