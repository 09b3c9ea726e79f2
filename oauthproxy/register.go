package oauthproxy

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/internal/netx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// maxClientName bounds client_name, the name the consent page shows.
const maxClientName = 200

// register is POST /oauth/register (RFC 7591 section 3). The proxy chooses
// the client_id and registers public clients only: MCP clients prove
// possession with PKCE, and the proxy issues no client secrets.
//
//	201  the client's metadata, client_id and client_id_issued_at added
//	400  invalid_client_metadata, invalid_redirect_uri
//	403  access_denied: the tenant has maxClients clients already
//	413  the body is over MaxRegistrationBytes
//	415  the body is not JSON
//	429  too many registrations from this address (Retry-After)
//	503  the store is unreachable (Retry-After)
func (p *Proxy) register(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	if wait := p.limiter.take(t.ID+"\x00"+addrKey(p.cfg.ClientAddr(r)), p.now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(httpx.CeilSeconds(wait)))
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many registrations from this address; retry later")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_client_metadata", "the body must be JSON (Content-Type: application/json)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRegistrationBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_client_metadata", fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "the body could not be read")
		return
	}
	var c store.Client
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&c); err != nil {
		msg := "the body is not a JSON object of client metadata"
		if errors.Is(err, store.ErrClientMetadata) {
			msg = err.Error()
		}
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", msg)
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "the body holds more than one JSON value")
		return
	}
	if e := checkMetadata(&c); e != nil {
		writeValue(w, http.StatusBadRequest, e)
		return
	}
	c.ClientIDIssuedAt = p.now().Unix()
	// A clash of two 128-bit random IDs does not happen; the second try
	// only keeps a broken random source from going unnoticed.
	for range 2 {
		c.ClientID = "mcp-" + strings.ToLower(rand.Text())
		if err = p.cfg.Clients.Register(r.Context(), t.ID, &c, t.Limits.MaxClients); !errors.Is(err, store.ErrExists) {
			break
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLimit):
		writeJSON(w, http.StatusForbidden, bodyAccessDenied)
		return
	default:
		p.log.ErrorContext(r.Context(), "oauthproxy: registering a client", "tenant", t.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	p.log.InfoContext(r.Context(), "oauthproxy: client registered", "tenant", t.ID, "client_id", c.ClientID,
		"remote", r.RemoteAddr)
	writeValue(w, http.StatusCreated, &c)
}

var bodyAccessDenied = []byte(`{"error":"access_denied"}`)

// checkMetadata checks and completes the metadata of a registration, and
// returns the error to answer when it is unacceptable.
func checkMetadata(c *store.Client) *oauthError {
	// Values the server issues are never taken from the request.
	c.ClientID, c.ClientSecret, c.ClientIDIssuedAt, c.ClientSecretExpiresAt = "", "", 0, 0
	switch n := len(c.RedirectURIs); {
	case n == 0:
		return &oauthError{"invalid_redirect_uri", "redirect_uris is required"}
	case n > MaxRedirectURIs:
		return &oauthError{"invalid_redirect_uri", fmt.Sprintf("at most %d redirect_uris are accepted", MaxRedirectURIs)}
	}
	for i, u := range c.RedirectURIs {
		if len(u) > MaxRedirectURILength {
			return &oauthError{"invalid_redirect_uri", fmt.Sprintf("redirect_uris[%d] is longer than %d bytes", i, MaxRedirectURILength)}
		}
		if why := checkRedirectURI(u); why != "" {
			return &oauthError{"invalid_redirect_uri", fmt.Sprintf("redirect_uris[%d] %s", i, why)}
		}
	}
	switch c.TokenEndpointAuthMethod {
	case "":
		c.TokenEndpointAuthMethod = "none"
	case "none":
	default:
		return &oauthError{"invalid_client_metadata", `only public clients are registered: token_endpoint_auth_method must be "none"`}
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return &oauthError{"invalid_client_metadata", fmt.Sprintf("grant type %q is not supported", cut(g, 64))}
		}
	}
	if len(c.ResponseTypes) == 0 {
		c.ResponseTypes = []string{"code"}
	}
	for _, rt := range c.ResponseTypes {
		if rt != "code" {
			return &oauthError{"invalid_client_metadata", fmt.Sprintf("response type %q is not supported", cut(rt, 64))}
		}
	}
	if !validName(c.ClientName) {
		return &oauthError{"invalid_client_metadata",
			fmt.Sprintf("client_name must be at most %d bytes of text without control or formatting characters", maxClientName)}
	}
	if c.Scope != "" && !validScopeList(c.Scope) {
		return &oauthError{"invalid_client_metadata", "scope must be space-separated scope tokens"}
	}
	for _, f := range []struct{ name, value string }{
		{"client_uri", c.ClientURI}, {"logo_uri", c.LogoURI}, {"tos_uri", c.TOSURI},
		{"policy_uri", c.PolicyURI}, {"jwks_uri", c.JWKSURI},
	} {
		if f.value != "" && !webURL(f.value) {
			return &oauthError{"invalid_client_metadata", f.name + " must be an absolute http or https URL"}
		}
	}
	return nil
}

// checkRedirectURI returns why u is not an acceptable redirect URI, or "".
// As OAuth 2.1 and the MCP authorization specification ask, it is an
// absolute https URL, or http on a loopback host for native clients (RFC
// 8252 section 7.3), without a fragment (RFC 6749 section 3.1.2) or user
// information.
func checkRedirectURI(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "is not an absolute URL"
	case !uriChars(s):
		// A URI is ASCII and escapes everything else (RFC 3986 section
		// 2): a redirect URI with a raw '<', '"' or space would put that
		// byte, unescaped, in every Location header sent to the client.
		return "has a character that must be percent-encoded"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "must not have a fragment"
	case u.User != nil:
		return "must not have user information"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && netx.IsLoopback(u.Hostname()):
		return ""
	}
	return "must use https (http only on a loopback host)"
}

// validName reports whether s may be shown as a client's name: short,
// UTF-8, and without control or formatting characters, so that no
// right-to-left override or invisible character can make one name look
// like another on the consent page.
func validName(s string) bool {
	if len(s) > maxClientName || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// validScopeList reports whether s is scope tokens separated by single
// spaces (RFC 6749 section 3.3).
func validScopeList(s string) bool {
	for sc := range strings.SplitSeq(s, " ") {
		if !tenant.ValidScope(sc) {
			return false
		}
	}
	return true
}

func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && !hasControl(s)
}

// uriByte marks the bytes of RFC 3986: unreserved, reserved and '%'.
var uriByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%" {
		t[c] = true
	}
	return t
}()

func uriChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !uriByte[s[i]] {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// cut returns s cut to at most n bytes, for messages and logs.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
