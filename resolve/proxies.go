package resolve

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ProxyHeader names the forwarding header that trusted reverse proxies set.
// A deployment's proxies set one of them; the other is never read, since a
// proxy passes on whatever a client sent in the header it does not manage.
type ProxyHeader string

// The forwarding headers [Proxies] reads.
const (
	// Forwarded is the standard header of RFC 7239, whose elements carry
	// both the client's address and host:
	// "Forwarded: for=192.0.2.60;proto=https;host=acme.seed.example.com".
	// HAProxy ("option forwarded"), Envoy and Caddy can set it; nginx does
	// with proxy_set_header.
	Forwarded ProxyHeader = "Forwarded"
	// XForwarded is the de facto pair: X-Forwarded-Host carries the host
	// and X-Forwarded-For the client's address. Most proxies and load
	// balancers set them (nginx, HAProxy, Traefik, Caddy, Envoy, cloud
	// load balancers).
	XForwarded ProxyHeader = "X-Forwarded"
)

// UnknownClient is what [Proxies.ClientAddr] returns when a trusted proxy
// forwarded a request without naming its client ("for=unknown", an element
// without a "for" parameter, an entry that is not an address) or with a
// malformed header. All such requests share this one address.
const UnknownClient = "unknown"

// maxObfuscatedNode bounds the obfuscated identifiers (RFC 7239 section
// 6.3) that [Proxies.ClientAddr] returns as they are; a longer one is
// [UnknownClient], so a header cannot put a long string into a log line.
const maxObfuscatedNode = 64

// ProxyConfig configures [NewProxies]. The zero value trusts nothing: the
// forwarding headers are never read.
type ProxyConfig struct {
	// Trusted are the addresses of the reverse proxies in front of the
	// server, as seen in http.Request.RemoteAddr, and of any proxies
	// between them and the clients. Never list an address a client can
	// connect from: its forged header would be believed.
	// default: none
	Trusted []netip.Prefix
	// Header is the forwarding header the trusted proxies set. The
	// proxies MUST set it on every request, replacing (Forwarded: or
	// appending to) what the client sent; the other header is ignored.
	// default: Forwarded
	Header ProxyHeader
}

// Proxies are the trusted reverse proxies in front of a server. They give
// the tenant resolvers the host the client asked for ([Proxies.Resolver])
// and the admin API the address of the client ([Proxies.ClientAddr]),
// both from the one header the proxies set, so that one configuration
// decides what is believed.
//
// With several proxies in a row, each appends an element to Forwarded (or
// an entry to X-Forwarded-For) naming the address it received the request
// from. The element used is found by walking from the right: the last one
// was added by the proxy the server is connected to, and as long as an
// element names a trusted address, the element to its left was added by
// that trusted proxy too. The first element, from the right, that names an
// address outside Trusted is the one the outermost trusted proxy added:
// its "for" is the client, its "host" the host the client asked for.
// Everything to its left came from the client and is ignored. When every
// element names a trusted address, the leftmost is used.
//
// X-Forwarded-Host carries no address to walk by, so its last value is
// used: the outermost proxy MUST set it to the host the client asked for,
// and proxies behind it MUST pass it on unchanged.
//
// A zero or nil *Proxies trusts nothing.
type Proxies struct {
	trusted []netip.Prefix
	header  ProxyHeader
}

// NewProxies returns the proxies of cfg. An invalid prefix or an unknown
// header is an error.
func NewProxies(cfg ProxyConfig) (*Proxies, error) {
	p := &Proxies{header: cfg.Header, trusted: make([]netip.Prefix, len(cfg.Trusted))}
	switch p.header {
	case "":
		p.header = Forwarded
	case Forwarded, XForwarded:
	default:
		return nil, fmt.Errorf("resolve: unknown proxy header %q (%s or %s)", cfg.Header, Forwarded, XForwarded)
	}
	for i, t := range cfg.Trusted {
		if !t.IsValid() {
			return nil, fmt.Errorf("resolve: invalid trusted proxy prefix %v", t)
		}
		p.trusted[i] = t.Masked()
	}
	return p, nil
}

// behindProxies resolves with the host a trusted reverse proxy forwarded.
type behindProxies struct {
	p    *Proxies
	next Resolver
}

var (
	_ Resolver = (*behindProxies)(nil)
	_ Rewriter = (*behindProxies)(nil)
)

// Resolver returns a Resolver for a server behind the proxies, whose Host
// header may be the proxy's rather than the client's. When the request
// comes from a trusted address (r.RemoteAddr), it runs next on a shallow
// copy of the request whose Host is the host the proxies forwarded (see
// [Proxies] for which one). Without a forwarded host the request is
// resolved as it is. A request from any other address is resolved as it
// is, and whatever forwarding headers it carries are ignored: a client must
// not pick its tenant by forging them.
//
// A forwarding header from a trusted proxy that is malformed (bad syntax,
// an unterminated quoted string, a repeated or empty host parameter, bytes
// that cannot be in a host) is an invalid identifier.
//
// The returned Resolver is also a [Rewriter], which delegates to next when
// next is one, so p.Resolver(Path()) still strips the tenant segment.
// Resolver panics when next is nil.
func (p *Proxies) Resolver(next Resolver) Resolver {
	if next == nil {
		panic("resolve: Proxies.Resolver with a nil Resolver")
	}
	if p == nil {
		p = &Proxies{header: Forwarded}
	}
	return &behindProxies{p: p, next: next}
}

// BehindProxies is NewProxies(ProxyConfig{Trusted: trusted}).Resolver(next):
// the proxies at the trusted addresses set Forwarded (RFC 7239), and
// X-Forwarded-Host is ignored. Behind proxies that set X-Forwarded-Host
// instead, use [NewProxies] with [XForwarded].
//
// Nothing is trusted by default: with an empty trusted list the forwarding
// headers are never read. BehindProxies panics when next is nil or a prefix
// is invalid.
func BehindProxies(trusted []netip.Prefix, next Resolver) Resolver {
	if next == nil {
		panic("resolve: BehindProxies with a nil Resolver")
	}
	p, err := NewProxies(ProxyConfig{Trusted: trusted})
	if err != nil {
		panic(fmt.Sprintf("resolve: BehindProxies: %v", err))
	}
	return p.Resolver(next)
}

// Resolve runs next on the request as the client sent it to the proxy.
func (b *behindProxies) Resolve(r *http.Request) (string, error) {
	r2, err := b.forwarded(r)
	if err != nil {
		return "", err
	}
	return b.next.Resolve(r2)
}

// Rewrite delegates to next with the forwarded host, and gives the request it
// returns back its original Host: only the tenant's part of the request is
// rewritten.
func (b *behindProxies) Rewrite(r *http.Request, id string) *http.Request {
	rw, ok := b.next.(Rewriter)
	if !ok {
		return r
	}
	r2, err := b.forwarded(r)
	if err != nil {
		return r
	}
	out := rw.Rewrite(r2, id)
	if out == r2 || out == r {
		return r
	}
	out.Host = r.Host
	return out
}

// Host returns the host the client sent r to: the host the proxies
// forwarded when r comes from a trusted address and carries a well-formed
// one, and r.Host otherwise. It is what a server behind the proxies puts
// in the URLs it answers with (see oidcx.ModeURLs.RequestHost).
func (p *Proxies) Host(r *http.Request) string {
	if p == nil || !p.trustedRemote(r.RemoteAddr) {
		return r.Host
	}
	if host, ok, err := p.forwardedHost(r.Header); err == nil && ok {
		return host
	}
	return r.Host
}

// forwarded returns r itself, or a shallow copy of r with the forwarded host
// when r comes from a trusted proxy that forwarded one.
func (b *behindProxies) forwarded(r *http.Request) (*http.Request, error) {
	if !b.p.trustedRemote(r.RemoteAddr) {
		return r, nil
	}
	host, ok, err := b.p.forwardedHost(r.Header)
	if err != nil || !ok {
		return r, err
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Host = host
	return r2, nil
}

// forwardedHost returns the host the proxies forwarded in their header; ok
// is false when they forwarded none.
func (p *Proxies) forwardedHost(h http.Header) (host string, ok bool, err error) {
	if p.header == XForwarded {
		return lastXForwardedHost(h["X-Forwarded-Host"])
	}
	e, ok, err := p.forwardedElement(h["Forwarded"])
	if err != nil || !ok || !e.hasHost {
		return "", false, err
	}
	return e.host, true, nil
}

// ClientAddr returns the address of the client that sent r: the IP of
// r.RemoteAddr when it is not a trusted proxy (or when the trusted proxy
// sent no forwarding header: the peer is then the client), and otherwise
// the client the trusted proxies name in their header (see [Proxies] for
// which element): an IP address without port, an obfuscated identifier
// ("_hidden"), or [UnknownClient] when they name none or the header is
// malformed. It never returns a trusted proxy's own address in place of
// the client's, and a header from an untrusted address is never read.
//
// The admin API counts failed keys per ClientAddr, so that behind a proxy
// one client's failures lock out that client, not every operator.
func (p *Proxies) ClientAddr(r *http.Request) string {
	peer := remoteHost(r.RemoteAddr)
	if !p.trustedRemote(r.RemoteAddr) {
		return peer
	}
	if p.header == XForwarded {
		return p.xForwardedClient(r.Header["X-Forwarded-For"], peer)
	}
	lines := r.Header["Forwarded"]
	if len(lines) == 0 {
		return peer
	}
	e, ok, err := p.forwardedElement(lines)
	switch {
	case err != nil:
		return UnknownClient
	case !ok:
		return peer // only empty elements: no header to speak of
	case !e.hasFor:
		return UnknownClient
	}
	return clientName(e.node)
}

// xForwardedClient walks the entries of X-Forwarded-For from the right past
// trusted addresses. Entries further left, which the client may have
// written, are never read. Without an entry the peer is the client.
func (p *Proxies) xForwardedClient(values []string, peer string) string {
	leftmost := ""
	for i := len(values) - 1; i >= 0; i-- {
		line := values[i]
		for line != "" {
			entry := line
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				line = ""
			}
			entry = trimOWS(entry)
			if entry == "" {
				continue
			}
			a, ok := nodeAddr(entry)
			if !ok {
				return clientName(entry)
			}
			if !p.trustedIP(a) {
				return a.String()
			}
			leftmost = a.String()
		}
	}
	if leftmost == "" {
		return peer
	}
	return leftmost
}

// clientName is the client address of a node that the walk stopped at.
func clientName(node string) string {
	if a, ok := nodeAddr(node); ok {
		return a.String()
	}
	if obfuscatedNode(node) {
		return node
	}
	return UnknownClient
}

// trustedRemote reports whether the IP address of remote, an "ip:port" as
// in http.Request.RemoteAddr or a bare IP, is in a trusted prefix.
func (p *Proxies) trustedRemote(remote string) bool {
	if p == nil || len(p.trusted) == 0 {
		return false
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remote); err == nil {
		addr = a
	} else {
		return false
	}
	return p.trustedIP(addr)
}

// trustedIP reports whether addr is in a trusted prefix. Prefix.Contains
// never matches an address with a zone, and an IPv4-mapped IPv6 address
// (from a dual-stack listener) should match the IPv4 prefixes an operator
// writes.
func (p *Proxies) trustedIP(addr netip.Addr) bool {
	addr = addr.WithZone("")
	for _, t := range p.trusted {
		if t.Contains(addr) || t.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// remoteHost is the host part of r.RemoteAddr, or all of it when it has
// no port.
func remoteHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// element holds the parameters of one forwarded-element that are read.
type element struct {
	node    string // the "for" parameter, decoded
	hasFor  bool
	host    string
	hasHost bool
}

// forwardedElement returns the element of the Forwarded field (whose values
// are the field's lines) that the outermost trusted proxy added, walking
// from the right past elements that name a trusted address. ok is false
// when the field has no element. Lines left of the one holding that
// element are never parsed, so a malformed line that a client sent before
// the proxy's own line does not matter.
func (p *Proxies) forwardedElement(lines []string) (e element, ok bool, err error) {
	var buf [8]string
	for i := len(lines) - 1; i >= 0; i-- {
		elems, err := appendElements(buf[:0], lines[i])
		if err != nil {
			return element{}, false, err
		}
		for j := len(elems) - 1; j >= 0; j-- {
			cur, err := parseElement(elems[j])
			if err != nil {
				return element{}, false, err
			}
			e, ok = cur, true
			if !cur.hasFor {
				return e, true, nil
			}
			if a, isAddr := nodeAddr(cur.node); !isAddr || !p.trustedIP(a) {
				return e, true, nil
			}
		}
	}
	// Every element named a trusted address (or there was none): the
	// leftmost one is the client's.
	return e, ok, nil
}

// appendElements appends the non-empty elements of one Forwarded line to
// dst, splitting at commas outside quoted strings.
func appendElements(dst []string, line string) ([]string, error) {
	start, quoted := 0, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++ // A quoted-pair: the next byte is literal.
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			if e := trimOWS(line[start:i]); e != "" {
				dst = append(dst, e)
			}
			start = i + 1
		}
	}
	if quoted {
		return nil, errForwarded
	}
	if e := trimOWS(line[start:]); e != "" {
		dst = append(dst, e)
	}
	return dst, nil
}

// parseElement reads the "for" and "host" parameters of a forwarded-element
// ("for=192.0.2.1;host=acme.example.com;proto=https"). Each parameter may
// occur once (RFC 7239 section 4); a host must be made of host bytes.
func parseElement(elem string) (e element, err error) {
	for elem != "" {
		var pair string
		pair, elem = cutPair(elem)
		pair = trimOWS(pair)
		if pair == "" {
			continue
		}
		name, value, found := strings.Cut(pair, "=")
		if !found || !validToken(name) {
			return element{}, errForwarded
		}
		value, vok := forwardedValue(value)
		if !vok {
			return element{}, errForwarded
		}
		switch {
		case strings.EqualFold(name, "host"):
			if e.hasHost || !validHost(value) {
				return element{}, errForwarded
			}
			e.host, e.hasHost = value, true
		case strings.EqualFold(name, "for"):
			if e.hasFor {
				return element{}, errForwarded
			}
			e.node, e.hasFor = value, true
		}
	}
	return e, nil
}

// nodeAddr returns the IP address of a node as Forwarded's "for" and
// X-Forwarded-For carry it: "192.0.2.60", "192.0.2.60:4711",
// "[2001:db8::1]", "[2001:db8::1]:4711", or a bare IPv6 address, which
// some proxies send. The address is returned without zone and unmapped.
// ok is false for "unknown", obfuscated identifiers and anything else.
func nodeAddr(node string) (netip.Addr, bool) {
	host := node
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = host[1:end]
	} else if strings.Count(host, ":") == 1 {
		host = host[:strings.IndexByte(host, ':')]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// obfuscatedNode reports whether node is an obfuscated identifier of RFC
// 7239 section 6.3 ("_" followed by letters, digits, ".", "_" and "-") of
// at most maxObfuscatedNode bytes. Such an identifier is stable per client
// by design, so it can stand for the client's address.
func obfuscatedNode(node string) bool {
	if len(node) < 2 || len(node) > maxObfuscatedNode || node[0] != '_' {
		return false
	}
	for i := 1; i < len(node); i++ {
		switch c := node[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// lastXForwardedHost returns the last entry of X-Forwarded-Host, whose
// values are the field's lines; ok is false when the field is absent.
func lastXForwardedHost(values []string) (host string, ok bool, err error) {
	if len(values) == 0 {
		return "", false, nil
	}
	// The header is a comma-separated list, one entry per proxy; the last
	// entry is the nearest proxy's.
	last := values[len(values)-1]
	last = trimOWS(last[strings.LastIndexByte(last, ',')+1:])
	if !validHost(last) {
		return "", false, errXForwarded
	}
	return last, true, nil
}

// cutPair splits elem at the first ';' outside a quoted string.
func cutPair(elem string) (pair, rest string) {
	quoted := false
	for i := 0; i < len(elem); i++ {
		switch c := elem[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ';':
			return elem[:i], elem[i+1:]
		}
	}
	return elem, ""
}

// forwardedValue decodes a parameter value: a token or a quoted string
// (RFC 9110 section 5.6.4), which may contain quoted pairs.
func forwardedValue(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return v, validToken(v)
	}
	if v[len(v)-1] != '"' {
		return "", false
	}
	v = v[1 : len(v)-1]
	if strings.IndexByte(v, '\\') < 0 {
		return v, strings.IndexByte(v, '"') < 0
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\':
			i++
			if i == len(v) {
				return "", false
			}
			c = v[i]
		case '"':
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// validHost reports whether h is non-empty and made only of the bytes of a
// host name, an IP literal and a port. It is a sanity check on what a proxy
// sent; the resolver that receives the host applies its own rules.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (spaces and tabs) around s.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
