package oidcx

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapInUse returns the bytes of live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func runtimeKeepAlive(x any) { runtime.KeepAlive(x) }

// ed25519WithChains returns a JWKS of about 1 MiB: Ed25519 keys, each with
// an x5c chain of copies of a certificate for it.
func ed25519WithChains(t testing.TB) []byte {
	var keys []jose.JSONWebKey
	size := 0
	for i := 0; size < 1<<20-40<<10; i++ {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: strings.Repeat("c", 200)},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		chain := make([]*x509.Certificate, 20)
		for j := range chain {
			chain[j] = cert
		}
		k := jose.JSONWebKey{Key: pub, KeyID: fmt.Sprint("ed-", i), Algorithm: "EdDSA", Use: "sig", Certificates: chain}
		keys = append(keys, k)
		size = len(jwksOf(keys...))
	}
	return jwksOf(keys...)
}

// worstKeySet returns the costliest set in memory that the bounds allow:
// MaxKeys RSA keys of maxRSABits, each with a key ID of maxKeyIDLength.
func worstKeySet(t testing.TB) []byte {
	k, err := rsa.GenerateKey(rand.Reader, maxRSABits)
	require.NoError(t, err)
	keys := make([]jose.JSONWebKey, MaxKeys)
	for i := range keys {
		kid := fmt.Sprintf("%0*d", maxKeyIDLength, i)
		keys[i] = jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
	}
	return jwksOf(keys...)
}

// verifierBytes builds n verifiers of tenants whose provider publishes
// body, and returns the heap each holds, measured, and as the cache
// accounts it.
func verifierBytes(t testing.TB, body []byte, n int) (measured, accounted int64) {
	idp := newHostileIdP(t)
	serveJWKS(idp, body)
	v := newTestVerifier(t, Config{MaxEntries: n, MaxBytes: 1 << 40})
	tenants := make([]string, n)
	for i := range n {
		tenants[i] = fmt.Sprintf("tenant-%04d", i)
	}
	before := heapInUse()
	for _, id := range tenants {
		tn := idp.tenant(id)
		_, err := v.Verify(t.Context(), tn, forgedToken(idp.issuer(), tn.OIDC.Audience, "none-such"))
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	after := heapInUse()
	require.Equal(t, n, v.cache.len())
	runtimeKeepAlive(v)
	return (after - before) / int64(n), v.cache.bytesUsed() / int64(n)
}

func usualKeySet(t testing.TB) []byte {
	return jwksOf(
		jose.JSONWebKey{Key: &testKey().PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		jose.JSONWebKey{Key: &ecKey(t, elliptic.P256()).PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
	)
}

// A verifier holds only what verification uses: a 1 MiB key set of
// Ed25519 keys with certificate chains once cost about 8.6 MiB per
// verifier. The cache's estimate of each verifier, which its byte bound
// counts, is at least what the verifier holds.
func TestVerifierMemory(t *testing.T) {
	for _, tt := range []struct {
		name  string
		body  []byte
		limit int64
	}{
		{"Ed25519 keys with x5c chains", ed25519WithChains(t), 16 << 10},
		{"the worst set the bounds allow", worstKeySet(t), 48 << 10},
		{"a usual set", usualKeySet(t), 4 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			measured, accounted := verifierBytes(t, tt.body, 100)
			t.Logf("%d bytes of JWKS: %d bytes held per verifier, %d accounted", len(tt.body), measured, accounted)
			assert.Less(t, measured, tt.limit)
			assert.GreaterOrEqual(t, accounted, measured)
		})
	}
}

// The cache holds verifiers up to its byte bound, dropping the least
// recently used, also when a key set grows on a later fetch.
func TestCacheByteBound(t *testing.T) {
	idp := newHostileIdP(t)
	small, worst := usualKeySet(t), worstKeySet(t)
	var mu sync.Mutex
	body := small
	idp.setJWKS(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(body)
	})
	clk := &testClock{}
	const bound = 56 << 10 // the worst set and three usual ones
	v := newTestVerifier(t, Config{MaxBytes: bound, Now: clk.Now})
	verify := func(id, kid string) {
		tn := idp.tenant(id)
		_, err := v.Verify(t.Context(), tn, forgedToken(idp.issuer(), tn.OIDC.Audience, kid))
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	for i := range 5 {
		verify(fmt.Sprint("t", i), "none-such")
	}
	assert.Equal(t, 5, v.cache.len(), "five usual verifiers fit")
	assert.LessOrEqual(t, v.cache.bytesUsed(), int64(bound))

	// t0's provider now publishes the worst set; its next fetch (an
	// unknown key ID, once the refresh interval has passed) makes its
	// verifier too large to keep along with the others.
	mu.Lock()
	body = worst
	mu.Unlock()
	clk.Advance(DefaultKeyRefreshInterval)
	verify("t0", "none-such-either")
	assert.LessOrEqual(t, v.cache.bytesUsed(), int64(bound), "within the bound")
	_, ok := v.cache.get("t0", settingsOf(idp.tenant("t0")))
	assert.True(t, ok, "the verifier that grew is the most recently used")
	_, ok = v.cache.get("t1", settingsOf(idp.tenant("t1")))
	assert.False(t, ok, "the least recently used dropped")
	assert.Equal(t, 4, v.cache.len())
}
