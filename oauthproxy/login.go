package oauthproxy

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxSubjectToken bounds the token subject reads a subject from.
const maxSubjectToken = 16 << 10

// subject returns the "sub" claim of the first of the tokens that is a
// JWT with a string subject, or "" when none is. The proxy calls it with
// the ID token and the access token the provider answered at its token
// endpoint, over the TLS connection the proxy opened to it: OpenID Connect
// Core (section 3.1.3.7) lets a client that receives an ID token that way
// trust it without checking its signature, which is all the subject of
// [Config.OnLogin] needs (it names who logged in, for records; it grants
// nothing). An access token is an opaque string to OAuth, so one that is
// not a JWT gives no subject.
func subject(tokens ...string) string {
	for _, tok := range tokens {
		var claims struct {
			Sub any `json:"sub"`
		}
		if !unverifiedClaims(tok, &claims) {
			continue
		}
		if sub, ok := claims.Sub.(string); ok && sub != "" {
			return sub
		}
	}
	return ""
}

// unverifiedClaims decodes the payload of tok into v, and reports whether
// tok is a JWT whose payload decodes. Its signature is not checked: the
// proxy reads only tokens the provider answered over the TLS connection
// the proxy opened, for what grants nothing (a subject for records, a
// lifetime for a record's expiry).
func unverifiedClaims(tok string, v any) bool {
	if len(tok) > maxSubjectToken {
		return false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	return err == nil && json.Unmarshal(payload, v) == nil
}
