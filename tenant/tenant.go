package tenant

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/internal/netx"
)

// Status is the lifecycle state of a tenant. Only an active tenant is
// served; a suspended one is answered exactly like an unknown one.
type Status string

// The statuses a tenant can have.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
)

// MaxNameLength bounds [Tenant.Name] in bytes.
const MaxNameLength = 200

// maxURLLength bounds each OIDC URL; nothing legitimate comes close.
const maxURLLength = 2048

// Tenant is one organisation served by the deployment. Its JSON form is the
// seed's tenant metadata, field for field:
//
//	{"id":"acme-corp","name":"ACME Corporation","domain":"acme.seed.example.com",
//	 "oidc":{"issuer":"https://auth.acme.com","audience":"seed-mcp-acme"},
//	 "limits":{"maxClients":100,"maxSessions":1000,"rateLimit":1000},
//	 "status":"active","createdAt":"2026-01-05T00:00:00Z","updatedAt":"2026-01-05T00:00:00Z"}
//
// A Tenant holds no references (no slices, maps or pointers), so assigning
// it copies it whole. A *Tenant obtained from a cache or a context is shared
// and must not be modified.
type Tenant struct {
	// ID is the tenant's identifier; see [ValidateID].
	ID string `json:"id"`
	// Name is a human-readable name, 1 to MaxNameLength bytes.
	Name string `json:"name"`
	// Domain is an optional custom domain (a lower-case host name without
	// port or trailing dot) that resolves to this tenant.
	Domain string `json:"domain,omitempty"`
	// OIDC names the tenant's identity provider. A tenant without one
	// cannot authenticate bearer tokens.
	OIDC OIDC `json:"oidc,omitzero"`
	// Limits caps the tenant's usage; 0 means unlimited.
	Limits Limits `json:"limits"`
	// Settings is the host's own configuration of the tenant, a JSON
	// object the library never interprets; see [Settings].
	Settings Settings `json:"settings,omitempty"`
	// Status is StatusActive or StatusSuspended.
	Status Status `json:"status"`
	// CreatedAt and UpdatedAt are set by the store, never by clients.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// OIDC is a tenant's identity provider configuration.
type OIDC struct {
	// Issuer is the provider's issuer URL; tokens must carry it as "iss".
	Issuer string `json:"issuer,omitempty"`
	// Audience must appear in a token's "aud".
	Audience string `json:"audience,omitempty"`
	// JWKSURI is optional; when empty the keys are found by OIDC discovery
	// from Issuer.
	JWKSURI string `json:"jwksUri,omitempty"`
	// TokenURL and AuthorizationURL are optional endpoints of the provider,
	// used by hosts that proxy the OAuth flow.
	TokenURL         string `json:"tokenUrl,omitempty"`
	AuthorizationURL string `json:"authorizationUrl,omitempty"`

	// ClientID is the tenant's upstream client at its provider, used by
	// the tenant's OAuth authorization server (the OAuth proxy), which is
	// on for a tenant that sets it.
	ClientID string `json:"clientId,omitempty"`
	// ClientSecret is the upstream client's secret, empty for a public
	// client. It is write-only: stored only sealed (package keyring, with
	// the context [ClientSecretContext]), never returned by the admin API
	// and never logged. Here it holds the sealed value.
	ClientSecret string `json:"clientSecret,omitempty"`
	// Scopes are the scopes the proxy asks the provider for.
	// default: [DefaultScopes] ("openid")
	Scopes Scopes `json:"scopes,omitempty"`
	// RevocationURL is the provider's revocation endpoint (RFC 7009),
	// optional; when empty it is found by discovery, if the provider
	// has one.
	RevocationURL string `json:"revocationUrl,omitempty"`
}

// Limits caps a tenant's usage. A zero value means unlimited.
type Limits struct {
	// MaxClients bounds the live dynamically registered clients.
	MaxClients int `json:"maxClients"`
	// MaxSessions bounds the live sessions.
	MaxSessions int `json:"maxSessions"`
	// RateLimit is requests per minute for the whole tenant; an idle tenant
	// may send all of them at once (the burst equals the limit).
	RateLimit int `json:"rateLimit"`
}

// Active reports whether the tenant may be served.
func (t *Tenant) Active() bool { return t.Status == StatusActive }

// Configured reports whether the OIDC settings name a provider.
func (o OIDC) Configured() bool { return o.Issuer != "" }

// Validate checks every field of t and returns an error wrapping
// [ErrInvalidID] for a bad ID and [ErrInvalid] for any other bad field. The
// message names the JSON field, so it can be shown to an operator.
func (t *Tenant) Validate() error {
	if err := ValidateID(t.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if err := validateName(t.Name); err != nil {
		return err
	}
	if t.Domain != "" && !ValidDomain(t.Domain) {
		return invalid("domain", "must be a lower-case host name without port or trailing dot")
	}
	switch t.Status {
	case StatusActive, StatusSuspended:
	default:
		return invalid("status", `must be "active" or "suspended"`)
	}
	if err := t.OIDC.validate(); err != nil {
		return err
	}
	if err := t.Settings.validate(); err != nil {
		return err
	}
	return t.Limits.validate()
}

func (o OIDC) validate() error {
	if o == (OIDC{}) {
		return nil
	}
	if o.Issuer == "" {
		return invalid("oidc.issuer", "is required when oidc is set")
	}
	if o.Audience == "" {
		return invalid("oidc.audience", "is required when oidc is set")
	}
	if len(o.Audience) > maxURLLength || !printable(o.Audience) {
		return invalid("oidc.audience", "must be printable text")
	}
	for _, f := range []struct{ name, value string }{
		{"oidc.issuer", o.Issuer},
		{"oidc.jwksUri", o.JWKSURI},
		{"oidc.tokenUrl", o.TokenURL},
		{"oidc.authorizationUrl", o.AuthorizationURL},
		{"oidc.revocationUrl", o.RevocationURL},
	} {
		if f.value != "" && !ValidProviderURL(f.value) {
			return invalid(f.name, "must be an absolute https URL (http only on loopback)")
		}
	}
	return o.validateClient()
}

func (l Limits) validate() error {
	switch {
	case l.MaxClients < 0:
		return invalid("limits.maxClients", "must not be negative")
	case l.MaxSessions < 0:
		return invalid("limits.maxSessions", "must not be negative")
	case l.RateLimit < 0:
		return invalid("limits.rateLimit", "must not be negative")
	}
	return nil
}

func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("name", "is required")
	}
	if len(name) > MaxNameLength {
		return invalid("name", fmt.Sprintf("must be at most %d bytes", MaxNameLength))
	}
	if !printable(name) {
		return invalid("name", "must be printable UTF-8")
	}
	return nil
}

func invalid(field, why string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalid, field, why)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ValidProviderURL reports whether s is acceptable as an identity provider
// URL:
//
//   - absolute, at most 2048 bytes of printable text, without user info or
//     fragment;
//   - scheme https, or http when the host is a loopback address or
//     "localhost" (for development and tests);
//   - a host that is a DNS name or an IP address, but never an address no
//     provider can have: unspecified (0.0.0.0, ::), link-local
//     (169.254.0.0/16, where cloud metadata services answer, and
//     fe80::/10), multicast, or an IPv6 address with a zone; nor a name
//     ending in a number ("2130706433", "127.1"), which some resolvers
//     read as an IPv4 address;
//   - any port from 1 to 65535: on-premise providers listen on many.
//
// Private addresses (10.0.0.0/8, 192.168.0.0/16, ...) are accepted, since
// on-premise providers live there. Whether a loopback provider is used at
// all is the host's decision: the token verifier refuses one unless told
// otherwise.
func ValidProviderURL(s string) bool {
	if len(s) > maxURLLength || !printable(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	if !validProviderHost(u.Hostname()) {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return netx.IsLoopback(u.Hostname())
	}
	return false
}

// validProviderHost reports whether host (without port or brackets) may
// name an identity provider; see [ValidProviderURL].
func validProviderHost(host string) bool {
	if host == "" || strings.ContainsRune(host, '%') {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return !ip.IsUnspecified() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() && !ip.IsMulticast()
	}
	last := strings.TrimSuffix(host, ".")
	last = last[strings.LastIndexByte(last, '.')+1:]
	if last == "" || strings.HasPrefix(strings.ToLower(last), "0x") {
		return false
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return true
		}
	}
	return false // all digits
}

// ValidDomain reports whether s is a lower-case DNS host name of at most 253
// bytes whose labels are 1 to 63 bytes of a-z, 0-9 and '-', not starting or
// ending with '-', with at least two labels, and whose last label is not a
// number. Such a name is also safe inside a Redis key.
//
// A name whose last label is a number is an IPv4 address to the URL parsers
// of browsers and of most HTTP clients (the WHATWG URL standard's "ends in a
// number" rule: all digits, or 0x and hex digits), so "127.0.0.1" and
// "10.0x1" are refused: they name an address, not a host, and no top-level
// domain looks like that (RFC 3696 section 2).
func ValidDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := 0
	last := ""
	for len(s) > 0 {
		label := s
		if i := strings.IndexByte(s, '.'); i >= 0 {
			label, s = s[:i], s[i+1:]
			if s == "" {
				return false // trailing dot
			}
		} else {
			s = ""
		}
		if !ValidLabel(label) {
			return false
		}
		labels++
		last = label
	}
	return labels >= 2 && !numericLabel(last)
}

// numericLabel reports whether a valid lower-case label is a number in the
// sense of the WHATWG URL standard's IPv4 parser: decimal digits, or "0x"
// followed by hex digits (none at all included). Octal needs no rule of its
// own: it is digits.
func numericLabel(l string) bool {
	digits := l
	hex := false
	if len(l) >= 2 && l[0] == '0' && l[1] == 'x' {
		digits, hex = l[2:], true
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9') && !(hex && 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidLabel reports whether l is a DNS label under the ID byte rules:
// 1 to MaxIDLength bytes of a-z, 0-9 and '-', not starting or ending with
// '-'. Unlike ValidID it accepts ReservedID, which is a fine label of a
// domain name.
func ValidLabel(l string) bool {
	err := ValidateID(l)
	return err == nil || err == ErrReservedID
}
