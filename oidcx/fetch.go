package oidcx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/internal/netx"
	"github.com/seedmcp/tenancy/tenant"
)

// ErrProviderURL means a provider URL, a tenant's or one a provider
// answered with (a jwks_uri, a redirect), is not one this verifier fetches
// from; see [Verifier.CheckProviderURL].
var ErrProviderURL = errors.New("oidcx: provider URL refused")

// maxRedirects bounds the redirects followed by one fetch.
const maxRedirects = 5

// CheckProviderURL returns nil when the verifier would fetch from rawURL,
// and an error wrapping [ErrProviderURL] that says why not otherwise. The
// rule is [tenant.ValidProviderURL] (https, or http on loopback; no
// link-local, unspecified or multicast address; ports 1 to 65535), and a
// loopback host (127.0.0.0/8, ::1, "localhost" and names under it) only
// when [Config.InsecureAllowLoopback] is set. An admin API applies it to
// a tenant's OIDC URLs, so that a tenant whose provider could never be
// reached is refused when it is written rather than on every request.
func (v *Verifier) CheckProviderURL(rawURL string) error {
	if !tenant.ValidProviderURL(rawURL) {
		return fmt.Errorf("%w: %q must be an absolute https URL (http only on loopback) of a host that can serve one", ErrProviderURL, cut(rawURL, 200))
	}
	u, _ := url.Parse(rawURL) // parsed by ValidProviderURL
	if !v.allowLoopback && netx.IsLoopbackName(u.Hostname()) {
		return fmt.Errorf("%w: %q is on the loopback interface, which this server does not fetch from", ErrProviderURL, cut(rawURL, 200))
	}
	return nil
}

// guard checks the URL of every request before it is sent: the tenant's
// own URLs, the jwks_uri of its discovery document and each redirect
// alike, since the http.Client sends each hop through its transport.
type guard struct {
	base  http.RoundTripper
	check func(string) error
}

var _ http.RoundTripper = guard{}

func (g guard) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := g.check(r.URL.String()); err != nil {
		return nil, err
	}
	return g.base.RoundTrip(r)
}

// checkRedirect stops after maxRedirects; the guard checks each target.
func checkRedirect(_ *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrProviderURL, maxRedirects)
	}
	return nil
}

// errAddressRefused is returned when a provider's name resolves to an
// address this verifier does not connect to.
var errAddressRefused = errors.New("oidcx: provider address refused")

// refusedAddr reports why a connection to a is refused, or "" when it is
// allowed. A DNS name can point anywhere, so the address connected to is
// checked as well as the URL: never the unspecified address, link-local
// addresses (169.254.0.0/16 holds cloud metadata services; fe80::/10) or
// multicast, and loopback only when allowed. Private addresses are
// allowed: on-premise providers live there.
func refusedAddr(a netip.Addr, allowLoopback bool) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a.IsLoopback() && !allowLoopback:
		return "loopback"
	}
	return ""
}

// maxHeaderBytes bounds the header of a provider's answer, as maxJWKSSize
// bounds its body: Go's transport reads up to 10 MiB of header by default,
// which a provider could send with every answer and every redirect. Real
// ones send a few KiB.
const maxHeaderBytes = 64 << 10

// newTransport returns the transport of a verifier that was given none: a
// clone of http.DefaultTransport whose dialer refuses the addresses
// refusedAddr names, and that reads at most maxHeaderBytes of an answer's
// header. A proxy (New passes http.ProxyFromEnvironment, so
// HTTPS_PROXY) is the operator's choice and is connected to whatever its
// address; the proxy then connects to the provider, and these checks are
// its own.
func newTransport(allowLoopback bool, proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = maxHeaderBytes
	var proxies sync.Map // host:port of the proxies in use
	t.Proxy = nil
	if proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if u != nil {
				proxies.Store(canonicalAddr(u), true)
			}
			return u, err
		}
	}
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	checked := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q", errAddressRefused, address)
			}
			if why := refusedAddr(ap.Addr(), allowLoopback); why != "" {
				return fmt.Errorf("%w: %s address %s", errAddressRefused, why, ap.Addr())
			}
			return nil
		}}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return plain.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
	return t
}

// canonicalAddr returns host:port of a proxy URL, with the scheme's port
// when it names none, as the transport dials it.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// cut returns s cut to at most n bytes, marked when cut, so that what a
// provider sends never fills a log line or an error kept in memory.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "...(cut)"
}
