package oidcx_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/oidcx"
)

// TestBearerSignatureEncoding pins what FuzzBearerHeader showed about
// tokens that differ from a valid one only in how the signature is written.
// Padding after the signature is refused. A last signature character that
// differs only in the bits base64url leaves unused (an RS256 signature of
// 256 bytes leaves 4) decodes, in a lenient decoder such as go-jose's, to
// the very same signature bytes; the strict parse before it refuses such a
// token, so each signature has one spelling. Nothing could be forged that
// way, but the verified-token cache, keyed by the token's hash, would
// otherwise hold one entry per spelling.
func TestBearerSignatureEncoding(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	valid := tokenFor(f.idp, f.acme, "alice")

	for _, padded := range []string{valid + "=", valid + "=="} {
		w := f.do(f.acme, "Bearer "+padded)
		assert.Equal(t, 401, w.Code)
		assert.Equal(t, `{"error":"invalid_token"}`, w.Body.String())
	}

	// The last of the 342 characters of an RS256 signature carries 2 bits
	// of it and 4 unused ones.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, valid[len(valid)-1])
	accepted := 0
	for unused := 1; unused < 16; unused++ {
		w := f.do(f.acme, "Bearer "+valid[:len(valid)-1]+string(alphabet[last^unused]))
		if w.Code == 200 {
			accepted++
			assert.Equal(t, "acme:alice", w.Body.String(), "a variant only ever carries the same claims")
		} else {
			assert.Equal(t, 401, w.Code)
		}
	}
	assert.Zero(t, accepted, "variants in the unused bits are refused")
	// A change in a bit of the signature is refused.
	w := f.do(f.acme, "Bearer "+valid[:len(valid)-1]+string(alphabet[last^32]))
	assert.Equal(t, 401, w.Code)
}
