package oidcx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/tenant"
)

// Defaults of [Config].
const (
	DefaultMaxEntries         = 1000
	DefaultMaxBytes           = 16 << 20
	DefaultMaxTokenSize       = 16 << 10
	DefaultSkew               = 30 * time.Second
	DefaultFetchTimeout       = 5 * time.Second
	DefaultKeyRefreshInterval = 30 * time.Second
	DefaultKeyMaxAge          = time.Hour
	DefaultBackoffMin         = time.Second
	DefaultBackoffMax         = 30 * time.Second
)

// defaultAlgorithms are the asymmetric algorithms go-oidc verifies. "none"
// and the HMAC algorithms are absent on purpose: a tenant's public keys are
// public, so an HMAC "signed" with one proves nothing.
var defaultAlgorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

func supportedAlg(alg string) bool { return slices.Contains(defaultAlgorithms, alg) }

// Config configures a [Verifier]. The zero value is ready to use.
type Config struct {
	// Transport carries discovery and JWKS requests. Whatever the
	// transport, every request of every fetch, redirects included, must
	// pass [Verifier.CheckProviderURL] first. The default transport also
	// checks the address it connects to, since a DNS name can point
	// anywhere: a transport set here must do that itself (or run where
	// nothing sensitive can be reached), and bound the header of an
	// answer (http.Transport.MaxResponseHeaderBytes), which the default
	// transport keeps to 64 KiB; bodies are bounded whatever the transport.
	// default: a clone of http.DefaultTransport with those checks
	Transport http.RoundTripper
	// InsecureAllowLoopback lets tenants name identity providers on the
	// loopback interface (127.0.0.0/8, ::1, "localhost"), over http or
	// https, and lets the default transport connect there. It exists for
	// tests and development, where the provider runs on the same machine.
	// It MUST NOT be set where whoever configures a tenant's OIDC settings
	// is not trusted with the server's own network: the server would
	// fetch from services that listen only on loopback (an admin API, a
	// metadata proxy) on their behalf. default: false
	InsecureAllowLoopback bool
	// FetchTimeout bounds the building of a tenant's verifier (discovery
	// and the first JWKS fetch together) and each later JWKS fetch.
	// default: 5 seconds
	FetchTimeout time.Duration
	// MaxEntries bounds the number of tenants whose verifier is cached; the
	// least recently used is dropped first. A dropped verifier is built
	// again on the tenant's next request, but not within
	// KeyRefreshInterval of its last fetch (the request is answered as
	// with a provider that is down): size it above the number of tenants
	// active within that interval. default: 1000
	MaxEntries int
	// MaxBytes bounds the heap the cached verifiers hold, as estimated
	// from their keys and settings; the least recently used are dropped
	// first, as for MaxEntries. A tenant's key set is bounded (MaxKeys
	// keys, RSA up to 4096 bits, certificate chains never kept): a
	// verifier of the worst set holds about 31 KiB (accounted as 49 KiB),
	// one of a usual set (an RSA-2048 and a P-256 key) about 1.5 KiB
	// (accounted as 2.5 KiB), so the default keeps 1,000 usual verifiers
	// or about 330 of the worst. default: 16 MiB
	MaxBytes int64
	// MaxTracked bounds the number of tenants whose fetch limits and
	// back-offs are remembered, apart from the cache so that they outlive
	// a verifier dropped from it. A tenant is forgotten once its state
	// restricts nothing (KeyRefreshInterval or BackoffMax after its last
	// fetch); while every state is younger, a tenant not yet tracked is
	// not fetched for. Each tenant costs about 280 bytes.
	// default: 50,000 (about 14 MiB at most)
	MaxTracked int
	// MaxTokenSize is the longest token, in bytes, that is parsed at all.
	// default: 16 KiB
	MaxTokenSize int
	// Skew is the clock difference tolerated when checking exp, nbf and
	// iat. default: 30 seconds
	Skew time.Duration
	// KeyRefreshInterval is the shortest time between two fetches of one
	// tenant's JWKS. A token signed with a key the provider published
	// after the last fetch is refused until the interval has passed.
	// default: 30 seconds
	KeyRefreshInterval time.Duration
	// KeyMaxAge is the age after which a tenant's keys are fetched again in
	// the background, so that keys the provider withdrew stop being
	// trusted. default: 1 hour
	KeyMaxAge time.Duration
	// BackoffMin and BackoffMax bound the wait after a failed build of a
	// tenant's verifier: it doubles with every consecutive failure. The
	// cap is also how long a provider that has come back may still be
	// refused, so it stays short: one discovery attempt per tenant and
	// replica every 30 seconds costs a dead provider nothing.
	// default: 1 second and 30 seconds
	BackoffMin time.Duration
	BackoffMax time.Duration
	// TokenCacheEntries and TokenCacheBytes bound the verified-token
	// cache: a token verified once is served from memory on its next
	// requests, keyed by tenant and the token's SHA-256 (the token itself
	// is not kept), until its exp and no later; never for another tenant,
	// nor once the tenant's issuer, audience or JWKS URI changed, and
	// checked again once when the tenant's keys were fetched anew. Invalidate
	// and InvalidateAll drop the tenant's tokens. A negative TokenCacheEntries
	// turns the cache off. default: 10,000 tokens and 16 MiB
	TokenCacheEntries int
	TokenCacheBytes   int64
	// Algorithms lists the signature algorithms accepted. Only asymmetric
	// algorithms are allowed. default: RS256, RS384, RS512, ES256, ES384,
	// ES512, PS256, PS384, PS512 and EdDSA
	Algorithms []string
	// Now returns the current time. default: time.Now
	Now func() time.Time
}

// Verifier verifies access tokens against the identity provider of the
// tenant they are presented to. It keeps one go-oidc verifier per tenant,
// built on first use and cached; see the package documentation. Create it
// with [New]; it is safe for concurrent use.
type Verifier struct {
	client        *http.Client
	allowLoopback bool
	fetchTimeout  time.Duration
	maxTokenSize  int
	skew          time.Duration
	keyMaxAge     time.Duration
	backoffMin    time.Duration
	backoffMax    time.Duration
	algs          []string
	now           func() time.Time

	cache  *cache
	tokens *tokenCache
	limits *limits
	builds singleflight.Group
}

// New returns a Verifier configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Verifier, error) {
	if err := conf.Durations("oidcx: Config.", []conf.Duration{
		{Name: "FetchTimeout", Value: &cfg.FetchTimeout, Default: DefaultFetchTimeout},
		{Name: "Skew", Value: &cfg.Skew, Default: DefaultSkew},
		{Name: "KeyRefreshInterval", Value: &cfg.KeyRefreshInterval, Default: DefaultKeyRefreshInterval},
		{Name: "KeyMaxAge", Value: &cfg.KeyMaxAge, Default: DefaultKeyMaxAge},
		{Name: "BackoffMin", Value: &cfg.BackoffMin, Default: DefaultBackoffMin},
		{Name: "BackoffMax", Value: &cfg.BackoffMax, Default: DefaultBackoffMax},
	}); err != nil {
		return nil, err
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		return nil, errors.New("oidcx: Config.BackoffMax must not be less than BackoffMin")
	}
	if cfg.MaxEntries < 0 || cfg.MaxBytes < 0 || cfg.MaxTokenSize < 0 || cfg.MaxTracked < 0 {
		return nil, errors.New("oidcx: Config.MaxEntries, MaxBytes, MaxTracked and MaxTokenSize must not be negative")
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.TokenCacheBytes < 0 {
		return nil, errors.New("oidcx: Config.TokenCacheBytes must not be negative")
	}
	if cfg.TokenCacheEntries == 0 {
		cfg.TokenCacheEntries = DefaultTokenCacheEntries
	}
	if cfg.TokenCacheBytes == 0 {
		cfg.TokenCacheBytes = DefaultTokenCacheBytes
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxTracked == 0 {
		cfg.MaxTracked = DefaultMaxTracked
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = defaultAlgorithms
	}
	for _, a := range cfg.Algorithms {
		if !supportedAlg(a) {
			return nil, fmt.Errorf("oidcx: Config.Algorithms: %q is not an asymmetric algorithm go-oidc verifies", a)
		}
	}
	if cfg.Transport == nil {
		cfg.Transport = newTransport(cfg.InsecureAllowLoopback, http.ProxyFromEnvironment)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{
		allowLoopback: cfg.InsecureAllowLoopback,
		fetchTimeout:  cfg.FetchTimeout,
		maxTokenSize:  cfg.MaxTokenSize,
		skew:          cfg.Skew,
		keyMaxAge:     cfg.KeyMaxAge,
		backoffMin:    cfg.BackoffMin,
		backoffMax:    cfg.BackoffMax,
		algs:          slices.Clone(cfg.Algorithms),
		now:           cfg.Now,
		cache:         newCache(cfg.MaxEntries, cfg.MaxBytes),
		tokens:        newTokenCache(cfg.TokenCacheEntries, cfg.TokenCacheBytes),
		limits:        newLimits(cfg.MaxTracked, cfg.KeyRefreshInterval, max(cfg.KeyRefreshInterval, cfg.BackoffMax)),
	}
	// The client checks the URL of every hop before it is sent, bounds
	// the size of what a provider sends back, and its own timeout backs
	// up the contexts' deadlines.
	v.client = &http.Client{
		Transport:     guard{base: limitBody{cfg.Transport}, check: v.CheckProviderURL},
		CheckRedirect: checkRedirect,
		Timeout:       cfg.FetchTimeout,
	}
	return v, nil
}

// Verify checks rawToken for tenant t and returns its claims, which are
// shared and must not be modified. It returns an
// error wrapping [ErrInvalidToken] when the token is refused,
// [ErrNotConfigured] when t has no OIDC settings, and an
// [*UnavailableError] when t's provider cannot be reached. ctx bounds only
// how long this call waits; the network calls it may start run on their own
// deadline and serve every concurrent caller.
//
// The token is parsed, and its issuer, audience and lifetime are checked,
// before the tenant's keys are looked up: a token that could never be
// accepted costs no fetch, also while the provider is down. A token
// verified once is remembered (see [Config.TokenCacheEntries]) and served
// from memory until its exp, for the same tenant and settings only.
func (v *Verifier) Verify(ctx context.Context, t *tenant.Tenant, rawToken string) (*Claims, error) {
	if len(rawToken) > v.maxTokenSize {
		return nil, ErrTokenTooLarge
	}
	if t == nil {
		return nil, ErrNotConfigured
	}
	s := settingsOf(t)
	if s.issuer == "" || s.audience == "" {
		return nil, ErrNotConfigured
	}
	sum := sumOf(rawToken)
	if c, ok := v.remembered(ctx, t.ID, sum, s); ok {
		return c, nil
	}
	tok, err := parseToken(rawToken, v.algs)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(&tok.claims, s); err != nil {
		return nil, err
	}
	ks, err := v.verifier(ctx, t.ID, s)
	if err != nil {
		return nil, err
	}
	keys, err := ks.verify(ctx, rawToken, tok)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := tok.claimsOf(t.ID)
	v.tokens.put(&verified{tenant: t.ID, sum: sum, claims: c, settings: s, keys: keys, until: c.Expiry})
	return c, nil
}

// remembered returns the claims of a token verified earlier for the
// tenant, when they may be served again: same settings, before the
// token's exp, and with the keys it was checked with still the tenant's.
// Keys fetched anew (a rotation, a withdrawn key) make each token be
// checked again once; while the tenant's verifier is out of the cache,
// its keys are trusted for KeyMaxAge after their fetch, as the verifier
// itself would trust them.
func (v *Verifier) remembered(ctx context.Context, id string, sum tokenSum, s settings) (*Claims, bool) {
	now := v.now()
	e, ok := v.tokens.get(id, sum, s, now)
	if !ok {
		return nil, false
	}
	if ce, ok := v.cache.get(id, s); ok {
		if ce.verifier.keys.Load() != e.keys {
			return nil, false
		}
		// As a fresh verification would: keys past KeyMaxAge are fetched
		// again in the background, and the tokens they verified are
		// checked again once the new keys are in.
		ce.verifier.maybeRefreshInBackground(ctx, e.keys)
	} else if !now.Before(e.keys.fetched.Add(v.keyMaxAge)) {
		return nil, false
	}
	return e.claims, true
}

// checkClaims checks the token's issuer and audience against the tenant's
// settings, that it names its subject, and its lifetime against the
// clock. The issuer must match exactly: go-oidc tolerates
// "accounts.google.com" for Google, this package does not. A token
// without a subject (which OIDC and RFC 9068 access tokens always carry)
// is refused: the subject is who the caller is, to the session guard
// and to the host, and every such token would be one caller.
func (v *Verifier) checkClaims(c *tokenClaims, s settings) error {
	if c.iss != s.issuer {
		return fmt.Errorf("%w: issuer %q", ErrInvalidToken, c.iss)
	}
	if !slices.Contains(c.aud, s.audience) {
		return fmt.Errorf("%w: audience %q", ErrInvalidToken, c.aud)
	}
	if c.sub == "" {
		return fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	return v.checkLifetime(c)
}

// checkLifetime applies RFC 7519 sections 4.1.4 to 4.1.6 with the
// configured skew.
func (v *Verifier) checkLifetime(c *tokenClaims) error {
	now := v.now()
	switch {
	case c.exp.IsZero():
		// An access token without exp would be valid forever.
		return fmt.Errorf("%w: no exp claim", ErrTokenExpired)
	case !now.Before(c.exp.Add(v.skew)):
		return fmt.Errorf("%w at %s", ErrTokenExpired, c.exp.UTC().Format(time.RFC3339))
	case !c.nbf.IsZero() && now.Add(v.skew).Before(c.nbf):
		return fmt.Errorf("%w before %s", ErrTokenNotYetValid, c.nbf.UTC().Format(time.RFC3339))
	case !c.iat.IsZero() && now.Add(v.skew).Before(c.iat):
		return fmt.Errorf("%w: issued in the future", ErrTokenNotYetValid)
	}
	return nil
}

// Invalidate drops the cached verifier of a tenant, the tokens verified for it,
// and its fetch limits and back-off, so that its next request builds a new one (discovery and JWKS
// fetched again). Call it when a tenant is updated or deleted. A changed
// issuer, audience or JWKS URI takes effect without it, because the cache
// compares them on every lookup; Invalidate frees the memory of a deleted
// tenant at once. A verifier the cache drops to stay within its bounds
// keeps its limits.
func (v *Verifier) Invalidate(tenantID string) {
	v.cache.remove(tenantID)
	v.tokens.removeTenant(tenantID)
	v.limits.reset(tenantID)
}

// InvalidateAll drops every cached verifier and verified token, and every
// fetch limit and back-off. Call it when tenant events may have been missed (a store
// subscription that was re-established); each tenant then builds its
// verifier again on its next request.
func (v *Verifier) InvalidateAll() {
	v.cache.clear()
	v.tokens.clear()
	v.limits.resetAll()
}

// verifier returns the cached key set of the tenant, building it on a
// miss unless the tenant's limits say to wait.
func (v *Verifier) verifier(ctx context.Context, id string, s settings) (*keySet, error) {
	if e, ok := v.cache.get(id, s); ok {
		return e.verifier, nil
	}
	fp := s.fingerprint()
	if retryAt, cause, ok := v.limits.blocked(id, fp, v.now()); ok {
		return nil, &UnavailableError{TenantID: id, RetryAt: retryAt, Err: cause}
	}
	// Concurrent misses of one tenant share one build, keyed by the
	// settings too so that a build for old settings is never handed to a
	// request made with new ones.
	key := id + "\x00" + s.issuer + "\x00" + s.audience + "\x00" + s.jwksURI
	epoch := v.cache.epochNow()
	ch := v.builds.DoChan(key, func() (any, error) {
		return v.build(ctx, id, s, fp, epoch), nil
	})
	select {
	case r := <-ch:
		b := r.Val.(built)
		if b.err != nil {
			return nil, &UnavailableError{TenantID: id, RetryAt: b.retryAt, Err: b.err, reported: b.reported}
		}
		return b.verifier, nil
	case <-ctx.Done():
		return nil, &UnavailableError{TenantID: id, RetryAt: v.now(), Err: ctx.Err()}
	}
}

// built is the outcome of a build: the key set, or why and until when
// there is none. reported is set for a failure of the provider (not for a
// build the limits held back), for the first caller to report it.
type built struct {
	verifier *keySet
	err      error
	retryAt  time.Time
	reported *atomic.Bool
}

// build makes the tenant's verifier, within its limits, and caches it. It
// runs on a context detached from the request that started it, so a
// client that hangs up does not fail the requests waiting on the same
// build.
func (v *Verifier) build(reqCtx context.Context, id string, s settings, fp fingerprint, epoch uint64) built {
	start := v.now()
	st, retryAt, err := v.limits.startBuild(id, fp, start)
	if err != nil {
		return built{err: err, retryAt: retryAt}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), v.fetchTimeout)
	defer cancel()
	ks, err := v.newKeySet(ctx, id, s, fp)
	if err != nil {
		// Kept and logged cut short: go-oidc's discovery error carries the
		// provider's answer.
		err = shorten(err)
	}
	retryAt, _ = v.limits.finishBuild(st, start, err, v.backoff, v.now())
	if err != nil {
		return built{err: err, retryAt: retryAt, reported: new(atomic.Bool)}
	}
	v.cache.put(&entry{id: id, settings: s, verifier: ks}, epoch)
	return built{verifier: ks}
}

// backoff returns the wait after the given number of consecutive failures.
func (v *Verifier) backoff(failures int) time.Duration {
	d := v.backoffMin
	for i := 1; i < failures && d < v.backoffMax; i++ {
		d *= 2
	}
	return min(d, v.backoffMax)
}

// newKeySet discovers the provider when no JWKS URI is configured and
// fetches its keys once.
func (v *Verifier) newKeySet(ctx context.Context, id string, s settings, fp fingerprint) (*keySet, error) {
	jwksURI := s.jwksURI
	if jwksURI == "" {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), s.issuer)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := p.Claims(&meta); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if err := v.CheckProviderURL(meta.JWKSURI); err != nil {
			return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		jwksURI = meta.JWKSURI
	}
	ks := &keySet{
		id:      id,
		fp:      fp,
		limits:  v.limits,
		url:     jwksURI,
		client:  v.client,
		timeout: v.fetchTimeout,
		maxAge:  v.keyMaxAge,
		now:     v.now,
	}
	// The build's reservation in the limits covers this first fetch.
	if err := ks.fetch(ctx); err != nil {
		return nil, err
	}
	return ks, nil
}

// settings are the OIDC settings that shape a verifier: the fingerprint a
// cached entry is compared with. Comparing the fields themselves costs no
// allocation and cannot collide.
type settings struct {
	issuer, audience, jwksURI string
}

func settingsOf(t *tenant.Tenant) settings {
	return settings{issuer: t.OIDC.Issuer, audience: t.OIDC.Audience, jwksURI: t.OIDC.JWKSURI}
}
