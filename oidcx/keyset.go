package oidcx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is one tenant's JSON Web Key Set. It does the work of go-oidc's
// RemoteKeySet, which fetches the set again for every token whose key ID
// it does not know: a stream of forged tokens with random key IDs would become
// a stream of requests to the tenant's provider. Here a fetch happens at
// most once per refresh interval, however many tokens ask for one; tokens
// that arrive while a fetch is in flight wait for it rather than start
// another.
type keySet struct {
	id      string      // the tenant
	fp      fingerprint // of the settings the set was built for
	limits  *limits     // where the refresh interval is kept
	url     string
	client  *http.Client
	timeout time.Duration // bounds each fetch
	maxAge  time.Duration // keys older than this are refreshed in the background
	now     func() time.Time

	keys atomic.Pointer[keyList] // read without a lock on every token

	// onStore, set before the set is shared, tells the cache the size of
	// each new list of keys.
	onStore func(*keyList)

	mu       sync.Mutex
	inflight *fetchCall
}

// keyList is an immutable snapshot of the keys and when they were fetched.
type keyList struct {
	keys    []publicKey
	fetched time.Time
	size    int64 // estimated heap, see publicKey.size
}

func newKeyList(keys []publicKey, fetched time.Time) *keyList {
	l := &keyList{keys: keys, fetched: fetched, size: int64(unsafe.Sizeof(keyList{}))}
	for i := range keys {
		l.size += keys[i].size()
	}
	return l
}

// fetchCall is a fetch in flight; done is closed when err is set.
type fetchCall struct {
	done chan struct{}
	err  error
}

// errRefreshLimited is returned when a token names an unknown key but the
// key set was fetched too recently to be fetched again.
var errRefreshLimited = errors.New("unknown key ID and key set refreshed recently")

// maxJWKSSize bounds a JWKS (and discovery) answer; real ones are a few KiB.
const maxJWKSSize = 1 << 20

// verify checks the signature of the token raw, already parsed as tok,
// with the tenant's keys, trying one key at most, and returns the keys it
// was checked with. A token naming a key ID the set does not hold makes
// the set be fetched again, within the refresh limit.
func (k *keySet) verify(ctx context.Context, raw string, tok *parsedToken) (*keyList, error) {
	list := k.current()
	key, known, err := list.find(tok.kid, tok.alg)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if !verifySignature(raw, tok, key.key) {
			// A fresh copy of the set would hold the same key under the
			// same ID, so do not ask for it.
			return nil, errors.New("signature does not verify")
		}
		k.maybeRefreshInBackground(ctx, list)
		return list, nil
	}
	if known {
		return nil, fmt.Errorf("key %q is not for %s", tok.kid, tok.alg)
	}
	// An unknown key ID: the provider may have rotated its keys (OpenID
	// Connect Core section 10.1.1), so fetch the set again, within the limit.
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	list = k.current()
	if key, _, err = list.find(tok.kid, tok.alg); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("no key of the set fits the token")
	}
	if !verifySignature(raw, tok, key.key) {
		return nil, errors.New("signature does not verify")
	}
	return list, nil
}

// current returns the keys in use; none before the first successful fetch.
func (k *keySet) current() *keyList {
	if l := k.keys.Load(); l != nil {
		return l
	}
	return &keyList{}
}

// verifySignature reports whether key verifies the signature of raw under
// the token's algorithm, over the very claims set that was parsed.
func verifySignature(raw string, tok *parsedToken, key any) bool {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tok.alg)})
	if err != nil || len(jws.Signatures) != 1 {
		return false
	}
	payload, err := jws.Verify(key)
	return err == nil && bytes.Equal(payload, tok.payload)
}

// refresh fetches the key set again, unless it was fetched less than the
// refresh interval ago. Concurrent callers share one fetch. The fetch runs on
// a context detached from ctx, so a caller that gives up does not fail the
// others; ctx only bounds how long this caller waits.
func (k *keySet) refresh(ctx context.Context) error {
	k.mu.Lock()
	c := k.inflight
	if c == nil {
		// The interval is kept in the tenant's limits, not here, so that
		// it holds across a verifier dropped from the cache and built
		// again.
		if !k.limits.startFetch(k.id, k.fp, k.now()) {
			k.mu.Unlock()
			return errRefreshLimited
		}
		c = k.start(ctx)
	}
	k.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maybeRefreshInBackground starts a fetch when the keys are older than the
// maximum age, so that a key the provider has withdrawn stops verifying
// tokens even if no token ever names an unknown key. The caller does not
// wait for it.
func (k *keySet) maybeRefreshInBackground(ctx context.Context, list *keyList) {
	if k.maxAge <= 0 || k.now().Sub(list.fetched) < k.maxAge {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight == nil && k.limits.startFetch(k.id, k.fp, k.now()) {
		k.start(ctx)
	}
}

// start launches a fetch; k.mu must be held.
func (k *keySet) start(ctx context.Context) *fetchCall {
	c := &fetchCall{done: make(chan struct{})}
	k.inflight = c
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
	go func() {
		defer cancel()
		err := k.fetch(fctx)
		k.mu.Lock()
		k.inflight = nil
		k.mu.Unlock()
		c.err = err
		close(c.done)
	}()
	return c
}

// fetch downloads the key set and, when it holds at least one usable key,
// replaces the cached keys. On failure the previous keys stay in use.
func (k *keySet) fetch(ctx context.Context) error {
	keys, err := fetchKeys(ctx, k.client, k.url)
	if err != nil {
		return err
	}
	l := newKeyList(keys, k.now())
	k.keys.Store(l)
	if k.onStore != nil {
		k.onStore(l)
	}
	return nil
}

// fetchKeys downloads and decodes the key set at url.
func fetchKeys(ctx context.Context, client *http.Client, url string) ([]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("jwks read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: %s", resp.Status)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("jwks larger than %d bytes", maxJWKSSize)
	}
	keys, err := decodeKeys(body)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no usable signing key")
	}
	return keys, nil
}
