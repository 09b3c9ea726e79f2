package oidcx

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Claims are the verified claims of an access token. A *Claims taken from a
// context is shared and must not be modified.
type Claims struct {
	// TenantID is the tenant the token was verified for.
	TenantID string
	// Issuer is "iss", equal to the tenant's issuer.
	Issuer string
	// Subject is "sub", the user (or client) the token was issued to.
	Subject string
	// Audience is "aud"; it contains the tenant's audience.
	Audience []string
	// Scopes holds the scopes granted, from the space-separated "scope"
	// claim (RFC 8693 section 4.2, RFC 9068) followed by those of "scp"
	// (a string or an array, as some providers send it).
	Scopes []string
	// Expiry is "exp". IssuedAt ("iat") and NotBefore ("nbf") are zero
	// when the token does not carry them.
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time

	raw json.RawMessage
}

// HasScope reports whether scope was granted.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Raw returns the token's payload: every claim, as JSON. The slice is shared
// and must not be modified.
func (c *Claims) Raw() json.RawMessage { return c.raw }

// Decode unmarshals the token's payload into v, for claims this type does
// not name:
//
//	var extra struct {
//		Email string `json:"email"`
//	}
//	err := claims.Decode(&extra)
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// claimsOf returns the claims of a verified token for the tenant id.
func (t *parsedToken) claimsOf(id string) *Claims {
	return &Claims{
		TenantID:  id,
		Issuer:    t.claims.iss,
		Subject:   t.claims.sub,
		Audience:  t.claims.aud,
		Scopes:    t.claims.scopes,
		Expiry:    t.claims.exp,
		IssuedAt:  t.claims.iat,
		NotBefore: t.claims.nbf,
		raw:       t.payload,
	}
}

// contextKey is unexported and a pointer, so no other package can read or
// replace the claims in a context.
type contextKey struct{}

var claimsKey = &contextKey{}

// NewContext returns a copy of ctx that carries c. The bearer middleware
// calls it for every request it lets through.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey, c)
}

// ClaimsFromContext returns the claims carried by ctx, if any. Behind the
// bearer middleware they are always present, except for anonymous requests
// that [BearerConfig.InsecureAllowAnonymous] lets through.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey).(*Claims)
	return c, ok && c != nil
}
