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
	"slices"
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
// an x5c chain of 20 copies of a certificate for it. Forty keys are made
// and published again under other key IDs, which the verifier keeps apart.
func ed25519WithChains(t testing.TB) []byte {
	type keyCert struct {
		pub   ed25519.PublicKey
		chain []*x509.Certificate
	}
	made := make([]keyCert, 40)
	for i := range made {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: strings.Repeat("c", 200)},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		made[i] = keyCert{pub: pub, chain: slices.Repeat([]*x509.Certificate{cert}, 20)}
	}
	var keys []jose.JSONWebKey
	for i := 0; len(jwksOf(keys...)) < 1<<20-40<<10; i++ {
		kc := made[i%len(made)]
		keys = append(keys, jose.JSONWebKey{Key: kc.pub, KeyID: fmt.Sprint("ed-", i), Algorithm: "EdDSA", Use: "sig", Certificates: kc.chain})
	}
	return jwksOf(keys...)
}

// rsa4096 is an RSA public key of the largest size the bounds allow. Only
// its public half is ever used, and no signature it checks is valid, so an
// odd modulus of the right size does, without the cost of making a key.
var rsa4096 = sync.OnceValue(func() *rsa.PublicKey {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), maxRSABits-1))
	if err != nil {
		panic(err)
	}
	n.SetBit(n, maxRSABits-1, 1)
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
})

// worstKeySet returns the costliest set in memory that the bounds allow:
// MaxKeys RSA keys of maxRSABits, each with a key ID of maxKeyIDLength.
func worstKeySet(t testing.TB) []byte {
	k := rsa4096()
	keys := make([]jose.JSONWebKey, MaxKeys)
	for i := range keys {
		kid := fmt.Sprintf("%0*d", maxKeyIDLength, i)
		keys[i] = jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "RS256", Use: "sig"}
	}
	return jwksOf(keys...)
}

// verifierBytes builds n verifiers of tenants whose provider publishes
// body, and returns the heap each holds, measured, and as the cache
// accounts it.
func verifierBytes(t testing.TB, body []byte, n int) (measured, accounted int64) {
	idp := newHostileIdP(t)
	serveJWKS(idp, body)
	v := newTestVerifier(t, Config{MaxEntries: n + 1, MaxBytes: 1 << 40})
	tenants := make([]string, n+1)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("tenant-%04d", i)
	}
	// The first verifier is not counted: it warms what all of them share
	// (the connection to the provider, its buffers).
	verify := func(id string) {
		tn := idp.tenant(id)
		_, err := v.Verify(t.Context(), tn, forgedToken(idp.issuer(), tn.OIDC.Audience, "none-such"))
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	verify(tenants[0])
	base := v.cache.bytesUsed()
	before := heapInUse()
	for _, id := range tenants[1:] {
		verify(id)
	}
	after := heapInUse()
	require.Equal(t, n+1, v.cache.len())
	runtimeKeepAlive(v)
	return (after - before) / int64(n), (v.cache.bytesUsed() - base) / int64(n)
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
		name      string
		body      []byte
		verifiers int
		limit     int64
	}{
		{"Ed25519 keys with x5c chains", ed25519WithChains(t), 20, 16 << 10},
		{"the worst set the bounds allow", worstKeySet(t), 50, 48 << 10},
		{"a usual set", usualKeySet(t), 50, 4 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			measured, accounted := verifierBytes(t, tt.body, tt.verifiers)
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
	// The bound holds the worst set and three and a half usual ones.
	_, usual := verifierBytes(t, small, 1)
	_, costly := verifierBytes(t, worst, 1)
	bound := costly + 7*usual/2
	clk := &testClock{}
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
	assert.LessOrEqual(t, v.cache.bytesUsed(), bound)

	// t0's provider now publishes the worst set; its next fetch (an
	// unknown key ID, once the refresh interval has passed) makes its
	// verifier too large to keep along with the others.
	mu.Lock()
	body = worst
	mu.Unlock()
	clk.Advance(DefaultKeyRefreshInterval)
	verify("t0", "none-such-either")
	assert.LessOrEqual(t, v.cache.bytesUsed(), bound, "within the bound")
	_, ok := v.cache.get("t0", settingsOf(idp.tenant("t0")))
	assert.True(t, ok, "the verifier that grew is the most recently used")
	_, ok = v.cache.get("t1", settingsOf(idp.tenant("t1")))
	assert.False(t, ok, "the least recently used dropped")
	assert.Equal(t, 4, v.cache.len())
}
