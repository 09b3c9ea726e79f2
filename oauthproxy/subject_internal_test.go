package oauthproxy

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tokens []string
		want   string
	}{
		{"id token", []string{jwt(`{"sub":"alice"}`), jwt(`{"sub":"other"}`)}, "alice"},
		{"no id token: the access token", []string{"", jwt(`{"sub":"bob"}`)}, "bob"},
		{"opaque access token", []string{"", "opaque-token"}, ""},
		{"sub not a string", []string{jwt(`{"sub":42}`)}, ""},
		{"empty sub", []string{jwt(`{"sub":""}`), jwt(`{"sub":"bob"}`)}, "bob"},
		{"payload not JSON", []string{jwt(`nope`)}, ""},
		{"not base64", []string{"a.!!!.c"}, ""},
		{"too long", []string{jwt(`{"sub":"` + strings.Repeat("x", 20<<10) + `"}`)}, ""},
	} {
		assert.Equal(t, tc.want, subject(tc.tokens...), tc.name)
	}
}
