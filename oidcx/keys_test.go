package oidcx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jwksOf(keys ...jose.JSONWebKey) []byte {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		panic(err)
	}
	return b
}

func ecKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return k
}

// serveJWKS makes idp publish body as its key set.
func serveJWKS(idp *hostileIdP, body []byte) {
	idp.setJWKS(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// A provider that publishes thousands of copies of one key under one key ID
// (under 1 MiB: before the bounds, one forged ES512 token was checked
// against each copy, about eleven seconds of CPU) leaves one key in the
// set, and a forged token is checked once.
func TestKeySetOfCopiesHoldsOneKey(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	p521 := ecKey(t, elliptic.P521())
	copies := make([]jose.JSONWebKey, 4600)
	for i := range copies {
		copies[i] = jose.JSONWebKey{Key: &p521.PublicKey, KeyID: "k"}
	}
	body := jwksOf(copies...)
	require.Less(t, len(body), maxJWKSSize)
	serveJWKS(idp, body)
	v := newTestVerifier(t, Config{})

	forged := encodeToken(map[string]any{"alg": "ES512", "kid": "k"}, idp.claims(acme), make([]byte, 132))
	_, err := v.Verify(t.Context(), acme, forged)
	assert.ErrorIs(t, err, ErrInvalidToken)
	e, ok := v.cache.get("acme", settingsOf(acme))
	require.True(t, ok)
	assert.Equal(t, 1, len(e.verifier.current().keys), "keys held")
}

func TestDecodeKeysBounds(t *testing.T) {
	rsaKey := testKey()
	p256 := ecKey(t, elliptic.P256())

	t.Run("at most MaxKeys distinct keys", func(t *testing.T) {
		var many []jose.JSONWebKey
		for i := range 100 {
			many = append(many, jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: fmt.Sprint("k", i)})
		}
		keys, err := decodeKeys(jwksOf(many...))
		require.NoError(t, err)
		require.Len(t, keys, MaxKeys)
		assert.Equal(t, "k0", keys[0].kid, "in the provider's order")
		assert.Equal(t, fmt.Sprint("k", MaxKeys-1), keys[MaxKeys-1].kid)
	})
	t.Run("only the first entries are read", func(t *testing.T) {
		var set []jose.JSONWebKey
		for range maxKeyEntries {
			set = append(set, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac"})
		}
		set = append(set, jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "late"})
		keys, err := decodeKeys(jwksOf(set...))
		require.NoError(t, err)
		assert.Empty(t, keys)
	})
	t.Run("duplicates dropped", func(t *testing.T) {
		other := ecKey(t, elliptic.P256())
		keys, err := decodeKeys(jwksOf(
			jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "a"},
			jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "a"},                       // a copy
			jose.JSONWebKey{Key: &other.PublicKey, KeyID: "a"},                      // same ID and type: never tried
			jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "a"},                     // same ID, another type: kept
			jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "b"},                       // same key, another ID: kept
			jose.JSONWebKey{Key: &p256.PublicKey},                                   // no ID: kept
			jose.JSONWebKey{Key: &p256.PublicKey},                                   // a copy without ID
			jose.JSONWebKey{Key: &other.PublicKey},                                  // another key without ID: kept
			jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "c", Algorithm: "RS256"}, // kept
			jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "c", Algorithm: "PS256"}, // another algorithm: kept
			jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "c", Algorithm: "RS256"}, // a copy
		))
		require.NoError(t, err)
		var got []string
		for _, k := range keys {
			got = append(got, fmt.Sprintf("%s/%T/%s", k.kid, k.key, k.alg))
		}
		assert.Equal(t, []string{
			"a/*ecdsa.PublicKey/", "a/*rsa.PublicKey/", "b/*ecdsa.PublicKey/",
			"/*ecdsa.PublicKey/", "/*ecdsa.PublicKey/",
			"c/*rsa.PublicKey/RS256", "c/*rsa.PublicKey/PS256",
		}, got)
	})
	t.Run("costly or odd keys ignored", func(t *testing.T) {
		xy, err := p256.PublicKey.Bytes() // 0x04, x, y
		require.NoError(t, err)
		big4097 := new(big.Int).Lsh(big.NewInt(1), 4096)
		big4097.Add(big4097, big.NewInt(1))
		raw := func(n *big.Int, e int) string {
			return fmt.Sprintf(`{"kty":"RSA","kid":"r","n":%q,"e":%q}`,
				b64.EncodeToString(n.Bytes()), b64.EncodeToString(big.NewInt(int64(e)).Bytes()))
		}
		body := `{"keys":[` + strings.Join([]string{
			raw(big4097, 65537),    // modulus over 4096 bits
			raw(rsaKey.N, 1<<31-1), // exponent over 65537
			fmt.Sprintf(`{"kty":"EC","crv":"P-256","alg":"RS256","x":%q,"y":%q}`, // an EC key that claims RS256
				b64.EncodeToString(xy[1:33]), b64.EncodeToString(xy[33:])),
			fmt.Sprintf(`{"kty":"RSA","kid":%q,"n":%q,"e":"AQAB"}`, strings.Repeat("k", maxKeyIDLength+1), // a long key ID
				b64.EncodeToString(rsaKey.N.Bytes())),
			raw(rsaKey.N, 65537), // the one usable key
		}, ",") + `]}`
		keys, err := decodeKeys([]byte(body))
		require.NoError(t, err)
		require.Len(t, keys, 1)
		assert.Equal(t, 2048, keys[0].key.(*rsa.PublicKey).N.BitLen())
	})
}

// Of the keys published under one key ID, only the first usable one is
// tried: a second key under the same ID never verifies a token.
func TestOneKeyTriedPerKeyID(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	decoy, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	serveJWKS(idp, jwksOf(
		jose.JSONWebKey{Key: &decoy.PublicKey, KeyID: idp.kid, Algorithm: "RS256"},
		idp.publicJWK(),
	))
	v := newTestVerifier(t, Config{})
	_, err = v.Verify(t.Context(), acme, idp.token(idp.claims(acme)))
	assert.ErrorIs(t, err, ErrInvalidToken)
}

// A token without a key ID is accepted only when the set has a single key
// for its algorithm; with several, none is tried.
func TestTokenWithoutKeyID(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p256 := ecKey(t, elliptic.P256())
	tests := []struct {
		name string
		set  []jose.JSONWebKey
		ok   bool
	}{
		{"one key", []jose.JSONWebKey{{Key: &testKey().PublicKey, KeyID: "k1"}}, true},
		{"one RSA key among others", []jose.JSONWebKey{
			{Key: &testKey().PublicKey, KeyID: "k1"},
			{Key: &p256.PublicKey, KeyID: "ec"},
			{Key: &other.PublicKey, KeyID: "ps", Algorithm: "PS256"},
		}, true},
		{"two RSA keys", []jose.JSONWebKey{
			{Key: &testKey().PublicKey, KeyID: "k1"},
			{Key: &other.PublicKey, KeyID: "k2"},
		}, false},
		{"two RSA keys, neither with an ID", []jose.JSONWebKey{
			{Key: &testKey().PublicKey},
			{Key: &other.PublicKey},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := newHostileIdP(t)
			acme := idp.tenant("acme")
			serveJWKS(idp, jwksOf(tt.set...))
			v := newTestVerifier(t, Config{})
			c, err := json.Marshal(idp.claims(acme))
			require.NoError(t, err)
			_, err = v.Verify(t.Context(), acme, idp.sign(`{"alg":"RS256"}`, string(c)))
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidToken)
			assert.ErrorIs(t, err, errNoKeyID)
		})
	}
}

// BenchmarkForgedTokenWorstKeySet measures the CPU one forged token costs
// against the worst key set the bounds allow: MaxKeys keys of the costliest
// kind, the token naming one of them, with a signature that runs the whole
// check before it fails. Each key kind is one sub-benchmark; the costliest
// is the figure.
func BenchmarkForgedTokenWorstKeySet(b *testing.B) {
	p521 := ecKey(b, elliptic.P521())
	p256 := ecKey(b, elliptic.P256())
	for _, c := range []struct {
		alg    string
		key    any
		sigLen int
	}{
		{"ES512", &p521.PublicKey, 132},
		{"ES256", &p256.PublicKey, 64},
		{"RS512", rsa4096(), 512},
		{"PS512", rsa4096(), 512},
	} {
		b.Run(c.alg+"/"+fmt.Sprint(MaxKeys)+"-keys", func(b *testing.B) {
			idp := newHostileIdP(b)
			acme := idp.tenant("acme")
			set := make([]jose.JSONWebKey, 2*MaxKeys)
			for i := range set {
				set[i] = jose.JSONWebKey{Key: c.key, KeyID: fmt.Sprint("k", i)}
			}
			serveJWKS(idp, jwksOf(set...))
			v := newTestVerifier(b, Config{})
			// A signature of the right length whose halves (or whole, for
			// RSA) lie below the group order or modulus, so that no check
			// fails early.
			sig := make([]byte, c.sigLen)
			_, _ = rand.Read(sig)
			if c.alg[0] == 'E' {
				sig[0], sig[c.sigLen/2] = 0, 0
			} else {
				sig[0] = 0x01
			}
			forged := encodeToken(map[string]any{"alg": c.alg, "kid": fmt.Sprint("k", MaxKeys-1)}, idp.claims(acme), sig)
			_, err := v.Verify(b.Context(), acme, forged)
			if !errors.Is(err, ErrInvalidToken) {
				b.Fatal(err)
			}
			e, _ := v.cache.get("acme", settingsOf(acme))
			if n := len(e.verifier.current().keys); n != MaxKeys {
				b.Fatalf("%d keys held", n)
			}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				_, _ = v.Verify(b.Context(), acme, forged)
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
