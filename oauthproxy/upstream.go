package oauthproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/tenant"
)

// maxProviderBody bounds what is read of any answer of a provider.
const maxProviderBody = 256 << 10

// Errors of the upstream side. None of them carries a secret or a token.
var (
	errRedirect      = errors.New("oauthproxy: provider redirect refused")
	errBodyTooLarge  = errors.New("oauthproxy: provider answer too large")
	errNoEndpoint    = errors.New("oauthproxy: the provider has no such endpoint")
	errSecret        = errors.New("oauthproxy: the tenant's client secret cannot be opened")
	errUpstreamToken = errors.New("oauthproxy: the provider's token answer is unusable")
)

// newUpstreamClient returns the client of every request to a provider:
// bounded in time and in answer size, each request checked by check
// before it is sent (redirects included, since the client sends each hop
// through its transport), and following a redirect only from a GET. A
// token or revocation endpoint that redirects is refused: a POST carrying
// a code or a secret goes nowhere but to the URL configured or discovered.
func newUpstreamClient(base http.RoundTripper, timeout time.Duration, check func(string) error) *http.Client {
	return &http.Client{
		Transport: guard{base: capBody{base}, check: check},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || via[0].Method != http.MethodGet {
				return errRedirect
			}
			return nil
		},
	}
}

// guard checks the URL of every request before it is sent.
type guard struct {
	base  http.RoundTripper
	check func(string) error
}

func (g guard) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := g.check(r.URL.String()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	return g.base.RoundTrip(r)
}

// capBody caps every answer's body at maxProviderBody.
type capBody struct{ base http.RoundTripper }

func (c capBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = httpx.LimitBody(resp.Body, maxProviderBody, errBodyTooLarge)
	return resp, nil
}

// endpoints are the provider endpoints the proxy uses for one tenant.
type endpoints struct {
	auth, token, revoke string
	// basic says the token endpoint takes client_secret_basic, the
	// default of RFC 6749; otherwise the secret goes in the form.
	basic bool
}

// endpointsFor returns t's endpoints: those its settings name, the rest
// from discovery. Discovery runs only when a setting is empty; when only
// the revocation endpoint is missing and discovery fails, the tenant goes
// on without one.
func (p *Proxy) endpointsFor(ctx context.Context, t *tenant.Tenant) (endpoints, error) {
	o := t.OIDC
	e := endpoints{auth: o.AuthorizationURL, token: o.TokenURL, revoke: o.RevocationURL, basic: true}
	if err := p.checkEndpoints(e); err != nil {
		return endpoints{}, err
	}
	if e.auth != "" && e.token != "" && e.revoke != "" {
		return e, nil
	}
	doc, err := p.upstream.get(ctx, t.ID, o.Issuer)
	if err != nil {
		if e.auth != "" && e.token != "" {
			return e, nil
		}
		return e, err
	}
	if e.auth == "" {
		e.auth = doc.AuthorizationEndpoint
	}
	if e.token == "" {
		e.token = doc.TokenEndpoint
	}
	if e.revoke == "" {
		e.revoke = doc.RevocationEndpoint
	}
	if m := doc.AuthMethods; len(m) > 0 && !slices.Contains(m, "client_secret_basic") && slices.Contains(m, "client_secret_post") {
		e.basic = false
	}
	if e.auth == "" || e.token == "" {
		return e, fmt.Errorf("%w: authorization_endpoint or token_endpoint", errNoEndpoint)
	}
	return e, nil
}

// checkEndpoints applies the provider URL rule to the endpoints a
// tenant's settings name: the browser is sent to the authorization
// endpoint, so it is held to the rule as much as those the proxy fetches.
func (p *Proxy) checkEndpoints(e endpoints) error {
	for _, u := range []string{e.auth, e.token, e.revoke} {
		if u == "" {
			continue
		}
		if err := p.cfg.CheckProviderURL(u); err != nil {
			return err
		}
	}
	return nil
}

// secret opens t's upstream client secret; "" for a public client.
func (p *Proxy) secret(t *tenant.Tenant) (string, error) {
	if t.OIDC.ClientSecret == "" {
		return "", nil
	}
	s, err := p.cfg.Keyring.Open(t.OIDC.ClientSecret, tenant.ClientSecretContext(t.ID))
	if err != nil {
		return "", fmt.Errorf("%w: %w", errSecret, err)
	}
	return s, nil
}

// oauth2Config returns the x/oauth2 configuration of t's upstream client.
// The authentication style is explicit: x/oauth2's auto-detection would
// send a refused request a second time.
func (p *Proxy) oauth2Config(r *http.Request, t *tenant.Tenant, e endpoints, secret string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if secret != "" && e.basic {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     t.OIDC.ClientID,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: e.auth, TokenURL: e.token, AuthStyle: style},
		RedirectURL:  p.issuer(r, t) + CallbackPath,
		Scopes:       t.OIDC.Scopes.Or(tenant.DefaultScopes).List(),
	}
}

// upstreamContext bounds a call to a provider by UpstreamTimeout and makes
// x/oauth2 use the proxy's client.
func (p *Proxy) upstreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.UpstreamTimeout)
	return context.WithValue(ctx, oauth2.HTTPClient, p.client), cancel
}

// resultOf turns the provider's token into what the proxy keeps and
// passes on.
func resultOf(tok *oauth2.Token) (tokenResult, error) {
	res := tokenResult{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken}
	switch {
	case res.TokenType == "" || strings.EqualFold(res.TokenType, "bearer"):
		res.TokenType = "Bearer"
	default:
		// The MCP server accepts bearer tokens only.
		return res, fmt.Errorf("%w: token type %q", errUpstreamToken, res.TokenType)
	}
	if s, ok := tok.Extra("id_token").(string); ok {
		res.IDToken = s
	}
	if s, ok := tok.Extra("scope").(string); ok {
		res.Scope = s
	}
	if !tok.Expiry.IsZero() {
		res.Expiry = tok.Expiry.Unix()
	}
	return res, nil
}

// revokeUpstream sends token to the provider's revocation endpoint (RFC
// 7009), authenticated as the tenant's upstream client.
func (p *Proxy) revokeUpstream(ctx context.Context, t *tenant.Tenant, e endpoints, secret, token, hint string) error {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	basic := secret != "" && e.basic
	if !basic {
		form.Set("client_id", t.OIDC.ClientID)
		if secret != "" {
			form.Set("client_secret", secret)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.UpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(t.OIDC.ClientID), url.QueryEscape(secret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oauthproxy: revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// describe returns what may be logged of an upstream failure: never the
// provider's answer itself, which could echo a code or a token.
func describe(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Sprintf("provider answered %d %q", status, re.ErrorCode)
	}
	return err.Error()
}

// upstreamDown reports whether err means the provider could not be
// reached or did not answer usably, as opposed to a refusal.
func upstreamDown(err error) bool {
	if errors.Is(err, errSecret) || errors.Is(err, errUpstreamToken) {
		return false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response == nil || re.Response.StatusCode >= 500
	}
	return true
}

// Bounds of the discovery cache.
const (
	maxDiscoveryEntries = 10000
	discoveryBackoffMin = time.Second
	discoveryBackoffMax = 30 * time.Second
)

// discovery fetches and caches each tenant's provider metadata (OpenID
// Connect discovery), one fetch at a time per tenant and issuer, on its
// own deadline, with a back-off after failures.
type discovery struct {
	client  *http.Client
	check   func(string) error
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	entries map[string]*discoEntry // by tenant ID
	group   singleflight.Group
}

type discoEntry struct {
	issuer   string
	doc      *providerDoc // nil after a failure with nothing known
	err      error
	until    time.Time // doc used, or failure remembered, until then
	failures int
}

// providerDoc is the part of a provider's metadata the proxy uses.
type providerDoc struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
}

func newDiscovery(client *http.Client, check func(string) error, timeout, ttl time.Duration, now func() time.Time, log *slog.Logger) *discovery {
	return &discovery{client: client, check: check, timeout: timeout, ttl: ttl, now: now, log: log, entries: map[string]*discoEntry{}}
}

// get returns the tenant's provider metadata, fetching it when it is not
// cached or has expired. ctx bounds only the wait: the fetch runs on its
// own deadline and serves every concurrent caller.
func (d *discovery) get(ctx context.Context, tenantID, issuer string) (*providerDoc, error) {
	d.mu.Lock()
	e := d.entries[tenantID]
	d.mu.Unlock()
	if e != nil && e.issuer == issuer && d.now().Before(e.until) {
		if e.doc != nil {
			return e.doc, nil
		}
		return nil, e.err
	}
	ch := d.group.DoChan(tenantID+"\x00"+issuer, func() (any, error) {
		return d.refresh(context.WithoutCancel(ctx), tenantID, issuer), nil
	})
	select {
	case r := <-ch:
		e := r.Val.(*discoEntry)
		if e.doc != nil {
			return e.doc, nil
		}
		return nil, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh fetches the metadata and caches the outcome. After a failure a
// document fetched before for the same issuer stays in use until the
// back-off ends: a provider's brief outage breaks no login.
func (d *discovery) refresh(ctx context.Context, tenantID, issuer string) *discoEntry {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	doc, err := d.fetch(ctx, issuer)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.entries[tenantID]
	e := &discoEntry{issuer: issuer, doc: doc, until: now.Add(d.ttl)}
	if err != nil {
		e.err, e.failures = err, 1
		if prev != nil && prev.issuer == issuer {
			e.failures = prev.failures + 1
			e.doc = prev.doc
		}
		e.until = now.Add(backoff(e.failures))
		d.log.Warn("oauthproxy: provider discovery failed", "tenant", tenantID, "error", err.Error(),
			"failures", e.failures, "retry", e.until.Sub(now))
	}
	if prev == nil && len(d.entries) >= maxDiscoveryEntries {
		d.evict(now)
	}
	d.entries[tenantID] = e
	return e
}

// evict makes room: expired entries first, else any one. The caller holds
// d.mu.
func (d *discovery) evict(now time.Time) {
	for id, e := range d.entries {
		if !now.Before(e.until) {
			delete(d.entries, id)
		}
	}
	for id := range d.entries {
		if len(d.entries) < maxDiscoveryEntries {
			return
		}
		delete(d.entries, id)
	}
}

// forget drops what is cached of a tenant.
func (d *discovery) forget(tenantID string) {
	d.mu.Lock()
	delete(d.entries, tenantID)
	d.mu.Unlock()
}

func backoff(failures int) time.Duration {
	b := discoveryBackoffMin
	for i := 1; i < failures && b < discoveryBackoffMax; i++ {
		b *= 2
	}
	return min(b, discoveryBackoffMax)
}

// fetch reads and checks the provider's discovery document.
func (d *discovery) fetch(ctx context.Context, issuer string) (*providerDoc, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := d.check(u); err != nil {
		return nil, fmt.Errorf("oauthproxy: discovery: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauthproxy: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauthproxy: discovery answered %d", resp.StatusCode)
	}
	var doc providerDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("oauthproxy: discovery document: %w", err)
	}
	// OpenID Connect Discovery 1.0 section 4.3: the document is the
	// issuer's own only if it names the issuer exactly.
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("oauthproxy: discovery document names issuer %q, not %q", doc.Issuer, issuer)
	}
	for name, v := range map[string]string{
		"authorization_endpoint": doc.AuthorizationEndpoint,
		"token_endpoint":         doc.TokenEndpoint,
		"revocation_endpoint":    doc.RevocationEndpoint,
	} {
		if v == "" {
			continue
		}
		if err := d.check(v); err != nil {
			return nil, fmt.Errorf("oauthproxy: discovery: %s: %w", name, err)
		}
	}
	return &doc, nil
}
