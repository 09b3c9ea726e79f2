package oidcx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// WellKnownPath is where RFC 9728 section 3 puts protected-resource
// metadata: under the resource's host, followed by the resource's path when
// it has one that tells tenants apart.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// DefaultMCPPath is the path of a tenant's MCP endpoint under its base URL.
const DefaultMCPPath = "/mcp"

// URLs gives the public URLs of a tenant's protected resource, as a client
// sees them. They depend on how tenants are told apart, so the host
// provides them: [SubdomainURLs], [PathURLs] and [HeaderURLs] cover the three
// identification modes.
type URLs interface {
	// Resource returns the exact URL of the tenant's MCP endpoint: the
	// "resource" of its metadata, which a client compares byte for byte
	// with the URL it connected to (RFC 9728 section 3.3).
	Resource(r *http.Request, t *tenant.Tenant) string
	// Metadata returns the URL of the tenant's protected-resource metadata,
	// named in every bearer challenge.
	Metadata(r *http.Request, t *tenant.Tenant) string
}

// ModeURLs are the URLs of one identification mode. Create them with
// [SubdomainURLs], [PathURLs] or [HeaderURLs].
type ModeURLs struct {
	// Path is the MCP endpoint's path under a tenant's base URL.
	// default: DefaultMCPPath ("/mcp")
	Path string

	// RequestHost returns the host a request was sent to, which tells in
	// subdomain mode whether a tenant is reached at its custom domain.
	// Behind reverse proxies that rewrite Host, set it to the forwarded
	// host of trusted proxies (resolve.Proxies.Host), as the root
	// package's Service.URLs does; otherwise a custom domain's URLs name
	// the tenant's subdomain instead.
	// default: the request's Host
	RequestHost func(r *http.Request) string

	mode   mode
	public string // PUBLIC_URL without a trailing slash
	scheme string // subdomain mode: PUBLIC_URL's scheme
	port   string // subdomain mode: ":port" when PUBLIC_URL names one
	base   string // subdomain mode: the base domain
}

var _ URLs = (*ModeURLs)(nil)

type mode int

const (
	subdomainMode mode = iota
	pathMode
	headerMode
)

// SubdomainURLs returns the URLs of subdomain mode:
//
//	resource  <scheme>://<id>.<baseDomain>[:<port>]/mcp
//	metadata  <scheme>://<id>.<baseDomain>[:<port>]/.well-known/oauth-protected-resource
//
// with publicURL's scheme and port. A request that reached the tenant on
// its custom domain ([tenant.Tenant.Domain]) gets that domain instead of the
// subdomain, because a client checks the resource against the URL it used.
func SubdomainURLs(publicURL, baseDomain string) (*ModeURLs, error) {
	u, err := parsePublicURL(publicURL)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(strings.ToLower(baseDomain), ".")
	if base == "" || strings.ContainsAny(base, ":/ ") {
		return nil, fmt.Errorf("oidcx: base domain %q must be a host name without port", baseDomain)
	}
	e := &ModeURLs{mode: subdomainMode, scheme: u.Scheme, base: base}
	if p := u.Port(); p != "" {
		e.port = ":" + p
	}
	return e, nil
}

// PathURLs returns the URLs of path mode:
//
//	resource  <publicURL>/<id>/mcp
//	metadata  <publicURL>/.well-known/oauth-protected-resource/<id>/mcp
func PathURLs(publicURL string) (*ModeURLs, error) {
	u, err := parsePublicURL(publicURL)
	if err != nil {
		return nil, err
	}
	return &ModeURLs{mode: pathMode, public: trimSlash(u)}, nil
}

// HeaderURLs returns the URLs of header mode, where every tenant shares one
// URL and a header picks the tenant:
//
//	resource  <publicURL>/mcp
//	metadata  <publicURL>/.well-known/oauth-protected-resource
func HeaderURLs(publicURL string) (*ModeURLs, error) {
	u, err := parsePublicURL(publicURL)
	if err != nil {
		return nil, err
	}
	return &ModeURLs{mode: headerMode, public: trimSlash(u)}, nil
}

// Resource returns the URL of the tenant's MCP endpoint.
func (e *ModeURLs) Resource(r *http.Request, t *tenant.Tenant) string {
	switch e.mode {
	case subdomainMode:
		return e.origin(r, t) + e.path()
	case pathMode:
		return e.public + "/" + t.ID + e.path()
	default:
		return e.public + e.path()
	}
}

// Metadata returns the URL of the tenant's protected-resource metadata.
func (e *ModeURLs) Metadata(r *http.Request, t *tenant.Tenant) string {
	switch e.mode {
	case subdomainMode:
		return e.origin(r, t) + WellKnownPath
	case pathMode:
		return e.public + WellKnownPath + "/" + t.ID + e.path()
	default:
		return e.public + WellKnownPath
	}
}

// origin returns scheme://host[:port] of the tenant in subdomain mode.
func (e *ModeURLs) origin(r *http.Request, t *tenant.Tenant) string {
	host := t.ID + "." + e.base
	if t.Domain != "" && r != nil && e.requestHost(r) == t.Domain {
		host = t.Domain
	}
	return e.scheme + "://" + host + e.port
}

// metadataPath returns, in path mode, the resource's path under a
// tenant's base URL, which follows WellKnownPath in the path the metadata
// handler is given (see metadataPathMatches).
func (e *ModeURLs) metadataPath() (string, bool) {
	return e.path(), e.mode == pathMode
}

func (e *ModeURLs) path() string {
	if e.Path == "" {
		return DefaultMCPPath
	}
	return e.Path
}

// requestHost returns the request's host without port or trailing dot, in
// lower case, as custom domains are stored.
func (e *ModeURLs) requestHost(r *http.Request) string {
	h := r.Host
	if e.RequestHost != nil {
		h = e.RequestHost(r)
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("oidcx: public URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("oidcx: public URL must be an absolute http or https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, errors.New("oidcx: public URL must not have user info, query or fragment")
	}
	return u, nil
}

// trimSlash returns u without a trailing slash, so that paths can be
// appended to it.
func trimSlash(u *url.URL) string {
	return strings.TrimSuffix(u.String(), "/")
}
