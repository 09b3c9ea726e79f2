package oidcx

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCacheBoundDropsLeastRecentlyUsed(t *testing.T) {
	c := newCache(3, 1<<30)
	s := settings{issuer: "https://idp", audience: "aud"}
	for i := range 3 {
		c.put(&entry{id: fmt.Sprint(i), settings: s}, c.epochNow())
	}
	_, ok := c.get("0", s) // 0 is now the most recently used
	assert.True(t, ok)
	c.put(&entry{id: "3", settings: s}, c.epochNow())

	assert.Equal(t, 3, c.len())
	_, ok = c.get("1", s)
	assert.False(t, ok, "least recently used dropped")
	for _, id := range []string{"0", "2", "3"} {
		_, ok := c.get(id, s)
		assert.True(t, ok, id)
	}
}

func TestCacheComparesSettings(t *testing.T) {
	c := newCache(10, 1<<30)
	s := settings{issuer: "https://idp", audience: "aud"}
	c.put(&entry{id: "acme", settings: s}, c.epochNow())
	for _, changed := range []settings{
		{issuer: "https://other", audience: "aud"},
		{issuer: "https://idp", audience: "other"},
		{issuer: "https://idp", audience: "aud", jwksURI: "https://idp/keys"},
	} {
		_, ok := c.get("acme", changed)
		assert.False(t, ok, "%+v", changed)
	}
	c.put(&entry{id: "acme", settings: s}, c.epochNow())
	assert.Equal(t, 1, c.len(), "one entry per tenant")
}

// A build that overlaps an Invalidate does not store its outcome.
func TestCacheRemoveWinsOverBuildInFlight(t *testing.T) {
	c := newCache(10, 1<<30)
	s := settings{issuer: "https://idp", audience: "aud"}
	epoch := c.epochNow()
	c.remove("acme")
	c.put(&entry{id: "acme", settings: s}, epoch)
	_, ok := c.get("acme", s)
	assert.False(t, ok)
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	v, err := New(Config{BackoffMin: time.Second, BackoffMax: 10 * time.Second})
	assert.NoError(t, err)
	var got []time.Duration
	for f := 1; f <= 6; f++ {
		got = append(got, v.backoff(f))
	}
	assert.Equal(t, []time.Duration{1, 2, 4, 8, 10, 10}, scale(got, time.Second))
	assert.Equal(t, 10*time.Second, v.backoff(1000), "no overflow")
}

func scale(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / unit
	}
	return out
}

func TestDecodeKeysSkipsUnusable(t *testing.T) {
	body := []byte(`{"keys":[
		{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
		{"kty":"EC","crv":"P-256","use":"enc","kid":"enc",
		 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","crv":"P-256","alg":"ES256K","kid":"k",
		 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"OKP","crv":"Ed448","x":"AAAA","kid":"ed448"},
		{"kty":"EC","crv":"P-256","kid":"good",
		 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
	]}`)
	keys, err := decodeKeys(body)
	assert.NoError(t, err)
	if assert.Len(t, keys, 1) {
		assert.Equal(t, "good", keys[0].kid)
	}
}

// BenchmarkCacheGet is the lookup every verification pays on a warm cache.
func BenchmarkCacheGet(b *testing.B) {
	c := newCache(DefaultMaxEntries, DefaultMaxBytes)
	s := settings{issuer: "https://auth.acme.com", audience: "seed-mcp-acme"}
	for i := range 1000 {
		c.put(&entry{id: fmt.Sprint("tenant-", i), settings: s}, c.epochNow())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.get("tenant-500", s); !ok {
			b.Fatal("miss")
		}
	}
}
