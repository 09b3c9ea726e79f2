package resolve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/seedmcp/tenancy/internal/jwtx"
	"github.com/seedmcp/tenancy/tenant"
)

// Bounds of the tokens [Token] reads.
const (
	// MaxTokenBytes is the longest bearer token read; a longer one is a
	// malformed identifier. It is the token verifier's default bound
	// (oidcx.DefaultMaxTokenSize).
	MaxTokenBytes = 16 << 10
	// MaxTokenAudiences is the most audiences of one token looked up; a
	// token with more is a malformed identifier.
	MaxTokenAudiences = 8
	// maxClaimLength bounds iss and each aud: a tenant's issuer and
	// audience are at most that long, so a longer value names no tenant.
	maxClaimLength = 2048
)

// IssuerLookup returns the ID of the tenant whose OIDC settings trust the
// issuer and the audience (a store.IssuerLookup's LookupIssuer is one).
// When no tenant does, it returns an error wrapping [tenant.ErrNotFound]
// (or, equally, "" and a nil error). Any other error means the answer is
// unknown, for instance because the store is unreachable.
type IssuerLookup func(ctx context.Context, issuer, audience string) (string, error)

// tokenIssuer resolves the tenant from the issuer and audience of the
// request's bearer token.
type tokenIssuer struct {
	lookup IssuerLookup
	read   payloads
}

// Bounds of the payloads a [Token] resolver remembers. A client sends the
// same token with every request; the claims of a payload read once are
// kept, so that a repeated token costs a map lookup rather than a JSON
// decode. Only payloads that name a usable iss and aud are kept, and
// when either bound would be passed the whole set is dropped: a flood of
// distinct tokens costs what it cost without the set, and no more memory
// than the bounds.
const (
	maxPayloads     = 4096
	maxPayloadBytes = 4 << 20
)

// payloads maps a token's payload segment, as sent, to its iss and
// audiences. Reading a payload is a pure function of its bytes, so an
// entry never goes stale: the tenant is still looked up on every request.
type payloads struct {
	mu    sync.RWMutex
	m     map[string]claimsRead
	bytes int
}

// claimsRead is what a payload names; auds is shared and read-only.
type claimsRead struct {
	iss  string
	auds []string
}

// claims returns the iss and audiences of the payload segment, reading it
// on the first request that sends it.
func (p *payloads) claims(payload string) (string, []string, error) {
	p.mu.RLock()
	c, ok := p.m[payload]
	p.mu.RUnlock()
	if ok {
		return c.iss, c.auds, nil
	}
	iss, auds, err := payloadClaims(payload)
	if err != nil {
		return "", nil, err
	}
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxPayloads || p.bytes+len(payload) > maxPayloadBytes {
		p.m, p.bytes = make(map[string]claimsRead), 0
	}
	// A payload is at most MaxTokenBytes, far under maxPayloadBytes.
	p.m[strings.Clone(payload)] = claimsRead{iss: iss, auds: auds}
	p.bytes += len(payload)
	p.mu.Unlock()
	return iss, auds, nil
}

var _ Resolver = (*tokenIssuer)(nil)

// Token returns a Resolver for hosts whose clients cannot name their tenant
// in the host, the path or a header, but send a bearer token (a JWT) of
// their tenant's identity provider: the tenant is the one whose
// oidc.issuer and oidc.audience are the token's "iss" and one of its
// "aud". No two tenants trust the same pair, so at most one matches.
//
// The token is read WITHOUT checking its signature, only to pick the
// tenant: the bearer middleware (oidcx) MUST then verify it as usual,
// against that tenant's keys, issuer and audience, so a forged token gets
// its sender nothing but the refusal of the tenant it names. Until then,
// naming a tenant is all a token does, as a header does in header mode
// (it draws on that tenant's rate limit, for one): routes served without
// the bearer middleware are served to anyone who names the tenant.
//
// The work is bounded before any lookup: one Authorization header with
// the Bearer scheme (RFC 6750), a JWS in compact form of at most
// [MaxTokenBytes], whose payload is a JSON object with a non-empty "iss"
// that is a valid provider URL ([tenant.ValidProviderURL]) and an "aud"
// (a string or an array of at most [MaxTokenAudiences] strings), each at
// most 2048 bytes of printable text. A request without a bearer token is a
// missing identifier; a token that breaks these rules is a malformed one,
// and costs no lookup. Each audience is then looked up with the issuer,
// under the request's context; the middleware's cache of the Service puts
// a cache with negative entries in front of the store.
//
// A pair that no tenant trusts is [tenant.ErrMissingID], as an unknown
// custom domain is ([Domain]); a token whose audiences name two different
// tenants is malformed. Any other failure of lookup is returned wrapped in
// [ErrLookup] (503). Token panics when lookup is nil.
//
// A request without a token has no tenant, so a client cannot discover
// its tenant's protected-resource metadata from a 401 here: Token suits
// clients configured with their tenant's provider, or in a [Chain] before
// a resolver that names a tenant without a token.
func Token(lookup IssuerLookup) Resolver {
	if lookup == nil {
		panic("resolve: Token with a nil lookup")
	}
	return &tokenIssuer{lookup: lookup}
}

// Preallocated refusals of malformed tokens: a flood of them costs no
// allocation for the error.
var (
	errTokenRepeated = &InvalidError{Identifier: tokenIdentifier, Err: fmt.Errorf("%w: repeated Authorization header", tenant.ErrInvalidID)}
	errTokenSize     = &InvalidError{Identifier: tokenIdentifier, Err: fmt.Errorf("%w: bearer token longer than %d bytes", tenant.ErrInvalidID, MaxTokenBytes)}
	errTokenForm     = &InvalidError{Identifier: tokenIdentifier, Err: fmt.Errorf("%w: bearer token is not a JWT", tenant.ErrInvalidID)}
	errTokenClaims   = &InvalidError{Identifier: tokenIdentifier, Err: fmt.Errorf("%w: bearer token without a usable iss and aud", tenant.ErrInvalidID)}
	errTokenTenants  = &InvalidError{Identifier: tokenIdentifier, Err: fmt.Errorf("%w: bearer token names several tenants", tenant.ErrInvalidID)}
)

// tokenIdentifier stands for the token in an [InvalidError]: a token is
// a credential and never goes into a log line.
const tokenIdentifier = "(bearer token)"

// Resolve reads the bearer token's iss and aud and looks the pairs up.
func (ti *tokenIssuer) Resolve(r *http.Request) (string, error) {
	token, err := bearer(r.Header)
	if err != nil {
		return "", err
	}
	payload, err := payloadOf(token)
	if err != nil {
		return "", err
	}
	iss, auds, err := ti.read.claims(payload)
	if err != nil {
		return "", err
	}
	found := ""
	for _, aud := range auds {
		id, err := ti.lookup(r.Context(), iss, aud)
		switch {
		case errors.Is(err, tenant.ErrNotFound), err == nil && id == "":
			continue
		case err != nil:
			return "", fmt.Errorf("%w: issuer %q: %w", ErrLookup, iss, err)
		}
		if err := tenant.ValidateID(id); err != nil {
			return "", fmt.Errorf("resolve: issuer %q maps to %q: %w", iss, id, err)
		}
		if found != "" && found != id {
			return "", errTokenTenants
		}
		found = id
	}
	if found == "" {
		return "", tenant.ErrMissingID
	}
	return found, nil
}

// bearer returns the request's bearer token, read exactly as the bearer
// middleware reads it (jwtx.Bearer): one Authorization header, scheme
// Bearer in any case, then spaces and one b64token. Credentials of
// another scheme are no token.
func bearer(h http.Header) (string, error) {
	token, state := jwtx.Bearer(h, MaxTokenBytes)
	switch state {
	case jwtx.Present:
		return token, nil
	case jwtx.Absent:
		return "", tenant.ErrMissingID
	case jwtx.TooLarge:
		return "", errTokenSize
	case jwtx.Malformed:
		if len(h.Values("Authorization")) > 1 {
			return "", errTokenRepeated
		}
	}
	return "", errTokenForm
}

// payloadOf returns the payload segment of a JWS in compact form: the
// second of exactly three parts (a JWE has five).
func payloadOf(token string) (string, error) {
	_, rest, ok := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || payload == "" || strings.Contains(sig, ".") {
		return "", errTokenForm
	}
	return payload, nil
}

// payloadClaims returns the iss and the audiences of a JWS's payload
// segment, without checking anything but their form. The payload is read
// by the bearer middleware's rule (jwtx.Members): "iss" and "aud" by
// their exact names, and a member repeated, also in another case, makes
// the token malformed, so that the claims that pick the tenant are the
// ones the verifier then checks. aud is a string or an array of strings
// (RFC 7519 section 4.1.3).
func payloadClaims(payload string) (string, []string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, errTokenForm
	}
	var iss string
	var auds []string
	err = jwtx.Members(raw, func(name string, v json.RawMessage) error {
		switch name {
		case "iss":
			if json.Unmarshal(v, &iss) != nil || len(v) == 0 || v[0] != '"' {
				return errTokenClaims
			}
		case "aud":
			switch {
			case len(v) > 0 && v[0] == '[':
				if json.Unmarshal(v, &auds) != nil || len(auds) > MaxTokenAudiences {
					return errTokenClaims
				}
			case len(v) > 0 && v[0] == '"':
				var one string
				if json.Unmarshal(v, &one) != nil {
					return errTokenClaims
				}
				auds = []string{one}
			default:
				return errTokenClaims
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errTokenClaims):
		return "", nil, errTokenClaims
	case err != nil:
		return "", nil, errTokenForm
	}
	if !claimText(iss) || !tenant.ValidProviderURL(iss) || len(auds) == 0 {
		return "", nil, errTokenClaims
	}
	for _, aud := range auds {
		if !claimText(aud) {
			return "", nil, errTokenClaims
		}
	}
	return iss, auds, nil
}

// claimText reports whether s could be a tenant's issuer or audience:
// 1 to 2048 bytes without control characters (NUL included, so that the
// pair joined by a NUL is unambiguous).
func claimText(s string) bool {
	if s == "" || len(s) > maxClaimLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
