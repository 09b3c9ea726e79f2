package resolve

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// proxies resolves with the host a trusted reverse proxy forwarded.
type proxies struct {
	trusted []netip.Prefix
	next    Resolver
}

var (
	_ Resolver = (*proxies)(nil)
	_ Rewriter = (*proxies)(nil)
)

// BehindProxies returns a Resolver for a server that sits behind reverse
// proxies, whose Host header may be the proxy's rather than the client's.
// When the request comes from an address in trusted (r.RemoteAddr), it runs
// next on a shallow copy of the request whose Host is the host the proxy
// forwarded: the host parameter of the last element of the Forwarded header
// (RFC 7239), the element that the nearest proxy added, or else the last
// value of X-Forwarded-Host. Without either header the request is resolved
// as it is. A request from any other address is resolved as it is, and
// whatever forwarding headers it carries are ignored: a client must not pick
// its tenant by forging them.
//
// A forwarding header from a trusted proxy that is malformed (bad syntax,
// an unterminated quoted string, a repeated or empty host parameter, bytes
// that cannot be in a host) is an invalid identifier.
//
// Nothing is trusted by default: with an empty trusted list the forwarding
// headers are never read. The trusted proxies MUST overwrite or remove both
// headers as they come from clients; a proxy that passes a client's header
// through lets that client choose the host. BehindProxies panics when next is
// nil or a prefix is invalid.
//
// The returned Resolver is also a [Rewriter], which delegates to next when
// next is one, so BehindProxies(Path()) still strips the tenant segment.
func BehindProxies(trusted []netip.Prefix, next Resolver) Resolver {
	if next == nil {
		panic("resolve: BehindProxies with a nil Resolver")
	}
	p := &proxies{next: next, trusted: make([]netip.Prefix, len(trusted))}
	for i, t := range trusted {
		if !t.IsValid() {
			panic(fmt.Sprintf("resolve: BehindProxies with an invalid prefix %v", t))
		}
		p.trusted[i] = t.Masked()
	}
	return p
}

// Resolve runs next on the request as the client sent it to the proxy.
func (p *proxies) Resolve(r *http.Request) (string, error) {
	r2, err := p.forwarded(r)
	if err != nil {
		return "", err
	}
	return p.next.Resolve(r2)
}

// Rewrite delegates to next with the forwarded host, and gives the request it
// returns back its original Host: only the tenant's part of the request is
// rewritten.
func (p *proxies) Rewrite(r *http.Request, id string) *http.Request {
	rw, ok := p.next.(Rewriter)
	if !ok {
		return r
	}
	r2, err := p.forwarded(r)
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

// forwarded returns r itself, or a shallow copy of r with the forwarded host
// when r comes from a trusted proxy that forwarded one.
func (p *proxies) forwarded(r *http.Request) (*http.Request, error) {
	if !p.trustedAddr(r.RemoteAddr) {
		return r, nil
	}
	host, ok, err := forwardedHost(r.Header)
	if err != nil || !ok {
		return r, err
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Host = host
	return r2, nil
}

// trustedAddr reports whether the IP address of remote, an "ip:port" as
// in http.Request.RemoteAddr or a bare IP, is in a trusted prefix.
func (p *proxies) trustedAddr(remote string) bool {
	if len(p.trusted) == 0 {
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
	// Prefix.Contains never matches an address with a zone, and an
	// IPv4-mapped IPv6 address (from a dual-stack listener) should match
	// the IPv4 prefixes an operator writes.
	addr = addr.WithZone("")
	for _, t := range p.trusted {
		if t.Contains(addr) || t.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// forwardedHost returns the host forwarded by the nearest proxy, from
// Forwarded or else X-Forwarded-Host; ok is false when neither names one.
func forwardedHost(h http.Header) (host string, ok bool, err error) {
	host, ok, err = lastForwardedHost(h["Forwarded"])
	if err != nil || ok {
		return host, ok, err
	}
	values := h["X-Forwarded-Host"]
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

// lastForwardedHost returns the host parameter of the last element of the
// Forwarded field (RFC 7239 section 4), whose values are the field's lines.
// ok is false when the field is absent or its last element has no host.
func lastForwardedHost(lines []string) (host string, ok bool, err error) {
	for i := len(lines) - 1; i >= 0; i-- {
		elem, err := lastElement(lines[i])
		if err != nil {
			return "", false, err
		}
		if elem != "" {
			return elementHost(elem)
		}
	}
	return "", false, nil
}

// lastElement returns the last non-empty element of one Forwarded line,
// splitting at commas outside quoted strings.
func lastElement(line string) (string, error) {
	last, start, quoted := "", 0, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++ // A quoted-pair: the next byte is literal.
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			if e := trimOWS(line[start:i]); e != "" {
				last = e
			}
			start = i + 1
		}
	}
	if quoted {
		return "", errForwarded
	}
	if e := trimOWS(line[start:]); e != "" {
		last = e
	}
	return last, nil
}

// elementHost returns the value of the host parameter of a forwarded-element
// ("for=192.0.2.1;host=acme.example.com;proto=https").
func elementHost(elem string) (host string, ok bool, err error) {
	for elem != "" {
		var pair string
		pair, elem = cutPair(elem)
		pair = trimOWS(pair)
		if pair == "" {
			continue
		}
		name, value, found := strings.Cut(pair, "=")
		if !found || !validToken(name) {
			return "", false, errForwarded
		}
		value, vok := forwardedValue(value)
		if !vok {
			return "", false, errForwarded
		}
		if !strings.EqualFold(name, "host") {
			continue
		}
		if ok || !validHost(value) {
			// RFC 7239 section 4: a parameter MUST NOT occur more than
			// once per element.
			return "", false, errForwarded
		}
		host, ok = value, true
	}
	return host, ok, nil
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
