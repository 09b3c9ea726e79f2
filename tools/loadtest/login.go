package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/oauthproxy"
)

// clientRedirect is the redirect URI of the MCP clients the workers
// register: a native client's loopback listener, which is never reached
// (the worker stops at the redirect to it and reads its query).
const clientRedirect = "http://127.0.0.1:9/callback"

// registrations keeps, by tenant, when the registrations the server
// admitted were sent, to tell an expected 429 of the registration limit
// from an unexpected one. The example server leaves
// oauthproxy.Config.RegistrationsPerMinute at its default: 20
// registrations a minute per client address and tenant, in windows that
// start with the first registration. All of the load comes from
// 127.0.0.1, so a busy tenant reaches the limit, as one address behind
// which many users register would.
type registrations struct {
	mu   sync.Mutex
	sent map[string][]time.Duration // by tenant: registrations not refused with 429
}

// registrationSlack widens the window in which admitted registrations are
// counted by how long a request may take to reach the server.
const registrationSlack = 5 * time.Second

func newRegistrations() *registrations { return &registrations{sent: map[string][]time.Duration{}} }

// add notes a registration sent to tenant id at at, and forgets those
// that can no longer count.
func (r *registrations) add(id string, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sent[id]
	i := 0
	for i < len(s) && s[i] < at-time.Minute-registrationSlack {
		i++
	}
	r.sent[id] = append(s[i:], at)
}

// refused notes that the registration sent at at was refused with 429,
// and reports whether that was to be expected: the server had admitted
// the limit's worth of registrations to the tenant within the minute
// before (and while the refused one was on its way).
func (r *registrations) refused(id string, at, now time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sent[id]
	for i, v := range s {
		if v == at {
			s = append(s[:i], s[i+1:]...)
			break
		}
	}
	r.sent[id] = s
	n := 0
	for _, v := range s {
		if v >= at-time.Minute-registrationSlack && v <= now {
			n++
		}
	}
	return n >= oauthproxy.DefaultRegistrationsPerMinute
}

// register registers a client with the tenant (RFC 7591) and returns its
// ID. A 429 with Retry-After is expected once the tenant has admitted the
// registration limit's worth from this address within a minute.
func (w *worker) register(ctx context.Context, t loadTenant) (string, bool) {
	body := `{"redirect_uris":["` + clientRedirect + `"],"client_name":"load ` + t.id + `","grant_types":["authorization_code","refresh_token"]}`
	at := w.c.rec.now()
	w.c.regs.add(t.id, at)
	var clientID string
	w.do(ctx, kindRegister, w.newRequest(ctx, http.MethodPost, w.c.base+"/"+t.id+"/oauth/register", body), func(a answer) (bool, string) {
		switch a.status {
		case http.StatusCreated:
			var reg struct {
				ClientID string `json:"client_id"`
			}
			if json.Unmarshal(a.body, &reg) != nil || reg.ClientID == "" {
				return false, ""
			}
			clientID = reg.ClientID
			return true, ""
		case http.StatusTooManyRequests:
			return w.c.regs.refused(t.id, at, w.c.rec.now()) && a.header.Get("Retry-After") != "" &&
				strings.Contains(string(a.body), `"too_many_requests"`), ""
		}
		return false, ""
	})
	if clientID == "" {
		return "", false
	}
	w.clients[t.id] = append(w.clients[t.id], clientID)
	return clientID, true
}

// login registers an MCP client with the tenant and logs in through the
// tenant's OAuth authorization server as the client and the user's
// browser do: authorize (the consent page), approve (to the provider),
// the provider's automatic login, the callback (back to the client with
// a code), the token endpoint, an MCP session with the token (whoami
// must name the tenant and the provider's user), and the revocation of
// the refresh token. For a tenant without an upstream client, authorize
// must be 404. One login in four also presents the client, and the
// token, to another tenant, which must know neither.
func (w *worker) login(ctx context.Context, t loadTenant) {
	clientID, ok := w.register(ctx, t)
	if !ok {
		return
	}
	verifier := rand.Text() + rand.Text() // 52 characters of RFC 7636's alphabet
	sum := sha256.Sum256([]byte(verifier))
	state := rand.Text()
	query := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {clientRedirect}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	var other *loadTenant
	if len(w.ts) > 1 && w.rnd.IntN(4) == 0 {
		if o := w.ts[w.rnd.IntN(len(w.ts))]; o.id != t.id {
			other = &o
		}
	}
	if other != nil {
		w.foreignClient(ctx, t, *other, query)
	}
	if !t.proxied() {
		w.do(ctx, kindAuthorizeOff, w.newRequest(ctx, http.MethodGet, w.c.base+"/"+t.id+"/oauth/authorize?"+query, ""),
			expect(http.StatusNotFound))
		return
	}
	tok, ok := w.authorize(ctx, t, clientID, query, state, verifier)
	if !ok {
		return
	}
	w.session(ctx, t, tok.Access, t.loginSubject)
	if other != nil {
		w.foreignToken(ctx, t, *other, tok.Access)
	}
	form := url.Values{"token": {tok.Refresh}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}}
	w.do(ctx, kindRevoke, w.formRequest(ctx, w.c.base+"/"+t.id+"/oauth/revoke", form, ""), expect(http.StatusOK))
}

// tokens are the provider's tokens a login ends with.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

var (
	consentAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	consentField  = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)
)

// authorize runs the flow from the consent page to the token endpoint.
func (w *worker) authorize(ctx context.Context, t loadTenant, clientID, query, state, verifier string) (tokens, bool) {
	base := w.c.base + "/" + t.id
	// The consent page must be the tenant's, for this client, and post
	// back to the tenant's authorization server.
	form := url.Values{"decision": {"approve"}}
	var cookie *http.Cookie
	_, ok := w.do(ctx, kindAuthorize, w.newRequest(ctx, http.MethodGet, base+"/oauth/authorize?"+query, ""), func(a answer) (bool, string) {
		if a.status != http.StatusOK {
			return false, ""
		}
		page := string(a.body)
		action := consentAction.FindStringSubmatch(page)
		if !strings.Contains(page, "Allow access to Tenant "+t.id+"?") || !strings.Contains(page, clientID) ||
			action == nil || html.UnescapeString(action[1]) != base+"/oauth/authorize" {
			return false, fmt.Sprintf("%s: consent page for client %s: %.300s", t.id, clientID, page)
		}
		for _, m := range consentField.FindAllStringSubmatch(page, -1) {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			if c.Name == oauthproxy.DefaultConsentCookie {
				cookie = c
			}
		}
		return cookie != nil && form.Get("csrf") != "" && form.Get("request") == query, ""
	})
	if !ok || cookie == nil || form.Get("csrf") == "" {
		return tokens{}, false
	}
	// Approving sends the browser to the tenant's provider, as the
	// tenant's upstream client, back to the tenant's callback.
	var idpURL string
	_, ok = w.do(ctx, kindApprove, w.formRequest(ctx, base+"/oauth/authorize", form, cookie.String()), func(a answer) (bool, string) {
		loc := a.header.Get("Location")
		if a.status != http.StatusSeeOther || strings.HasPrefix(loc, clientRedirect+"?") {
			return false, "" // a refusal, or an error sent to the client
		}
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, t.idp.AuthorizeURL()+"?") || u.Query().Get("client_id") != "proxy-"+t.id ||
			u.Query().Get("redirect_uri") != base+"/oauth/callback" {
			return false, fmt.Sprintf("%s: approval sends the browser to %q", t.id, loc)
		}
		idpURL = loc
		return true, ""
	})
	if !ok || idpURL == "" {
		return tokens{}, false
	}
	var callback string
	_, ok = w.do(ctx, kindIdP, w.newRequest(ctx, http.MethodGet, idpURL, ""), func(a answer) (bool, string) {
		callback = a.header.Get("Location")
		return a.status == http.StatusFound && strings.HasPrefix(callback, base+"/oauth/callback?"), ""
	})
	if !ok || !strings.HasPrefix(callback, base+"/oauth/callback?") {
		return tokens{}, false
	}
	// The callback sends the browser on to the client with a code of the
	// tenant's authorization server, this login's state and the
	// tenant's issuer.
	var code string
	req := w.newRequest(ctx, http.MethodGet, callback, "")
	req.Header.Set("Cookie", cookie.String())
	w.do(ctx, kindCallback, req, func(a answer) (bool, string) {
		loc := a.header.Get("Location")
		u, err := url.Parse(loc)
		if a.status != http.StatusFound || err != nil || !strings.HasPrefix(loc, clientRedirect+"?") {
			return false, ""
		}
		q := u.Query()
		if q.Get("state") != state || q.Get("iss") != base {
			return false, fmt.Sprintf("%s: callback sends the client %q", t.id, loc)
		}
		code = q.Get("code")
		return code != "", ""
	})
	if code == "" {
		return tokens{}, false
	}
	var tok tokens
	form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {clientRedirect},
		"client_id": {clientID}, "code_verifier": {verifier}}
	w.do(ctx, kindToken, w.formRequest(ctx, base+"/oauth/token", form, ""), func(a answer) (bool, string) {
		return a.status == http.StatusOK && json.Unmarshal(a.body, &tok) == nil && tok.Access != "" && tok.Refresh != "", ""
	})
	return tok, tok.Access != ""
}

// formRequest is a POST of form to u, with a Cookie header unless cookie
// is empty.
func (w *worker) formRequest(ctx context.Context, u string, form url.Values, cookie string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err) // the URLs are built here, from valid parts
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return req
}

// foreignClient presents t's client to other's authorize endpoint, which
// must not know it: 400 (an unknown application) when other's
// authorization server is on, 404 when it is off. Any answer that takes
// the client for one of other's (the consent page, a redirect) is a leak.
func (w *worker) foreignClient(ctx context.Context, t, other loadTenant, query string) {
	want := http.StatusNotFound
	if other.proxied() {
		want = http.StatusBadRequest
	}
	u := w.c.base + "/" + other.id + "/oauth/authorize?" + query
	w.do(ctx, kindForeign, w.newRequest(ctx, http.MethodGet, u, ""), func(a answer) (bool, string) {
		if a.status/100 == 2 || a.status/100 == 3 {
			return false, fmt.Sprintf("%s's client on %s: %d %s", t.id, other.id, a.status, a.header.Get("Location"))
		}
		return a.status == want, ""
	})
}

// foreignToken presents the token of a login at t to other's MCP
// endpoint, which must refuse it (401, its own challenge).
func (w *worker) foreignToken(ctx context.Context, t, other loadTenant, token string) {
	w.do(ctx, kindForeignToken, w.mcpRequest(ctx, other, token, http.MethodPost, "", initializeBody), func(a answer) (bool, string) {
		if a.status/100 == 2 {
			return false, fmt.Sprintf("%s's login token accepted by %s: %d", t.id, other.id, a.status)
		}
		return a.status == http.StatusUnauthorized, w.challenge(other, a)
	})
}
