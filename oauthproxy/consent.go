package oauthproxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// The consent page is the defence the MCP security guidance asks of a
// proxy that reaches its provider with one static client: without it, any
// registered client could have the proxy's client authorized in the
// user's name, and a provider that remembers the user's earlier consent
// would not ask again (the confused deputy). The user sees who asks and
// where the answer goes, and decides.
//
// The decision is bound to the browser. The page sets a random cookie
// (HttpOnly, SameSite=Lax, and on https Secure with the __Host- prefix, so
// that no other host can plant one); the form carries an HMAC of the
// authorization request keyed with that cookie, which another site can
// neither read nor compute. The approved transaction keeps a hash of the
// cookie, and the callback must come from the browser that holds it: a
// provider's answer cannot be replayed into another browser.

// consentCookieAge is how long the cookie lives; the transaction it binds
// lives DefaultTransactionTTL.
const consentCookieAge = 3600

// cookieName returns the consent cookie's name for an issuer.
func (p *Proxy) cookieName(issuer string) string {
	if strings.HasPrefix(issuer, "https://") {
		return "__Host-" + p.cfg.ConsentCookie
	}
	return p.cfg.ConsentCookie
}

// consentCookie returns the browser's consent cookie, if it sent a
// well-formed one.
func (p *Proxy) consentCookie(r *http.Request, issuer string) (string, bool) {
	c, err := r.Cookie(p.cookieName(issuer))
	if err != nil || len(c.Value) != 43 {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(c.Value); err != nil {
		return "", false
	}
	return c.Value, true
}

// setConsentCookie sends the cookie, new or renewed.
func (p *Proxy) setConsentCookie(w http.ResponseWriter, issuer, value string) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(issuer),
		Value:    value,
		Path:     "/",
		MaxAge:   consentCookieAge,
		HttpOnly: true,
		Secure:   strings.HasPrefix(issuer, "https://"),
		// Lax, not Strict: the provider's redirect to the callback is a
		// top-level navigation from another site, and must carry it.
		SameSite: http.SameSiteLaxMode,
	})
}

// csrfToken binds the authorization request raw, at the tenant, to the
// browser whose consent cookie is cookie.
func csrfToken(cookie, tenantID, raw string) string {
	mac := hmac.New(sha256.New, []byte(cookie))
	mac.Write([]byte("tenancy oauthproxy consent\x00" + tenantID + "\x00" + raw))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func validCSRF(token, cookie, tenantID, raw string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(csrfToken(cookie, tenantID, raw))) == 1
}

// browserHash is what a transaction keeps of the consent cookie.
func browserHash(cookie string) string {
	sum := sha256.Sum256([]byte("tenancy oauthproxy browser\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// consentView is what the page shows. html/template escapes every value
// for where it appears; the client's name and URIs are shown as text and
// never as a link or an image.
type consentView struct {
	Tenant      string
	Client      string
	ClientID    string
	Host        string
	RedirectURI string
	Scopes      []string
	Action      string
	Request     string
	CSRF        string
	Style       template.CSS
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Allow access to {{.Tenant}}?</title><style>{{.Style}}</style></head>
<body>
<h1>Allow access to {{.Tenant}}?</h1>
<p>The application <span class="who">{{.Client}}</span> asks to act on your behalf at {{.Tenant}}.
The application chose this name itself; it has not been verified.</p>
<p class="warn">Approve only if you just started this from that application.
After you approve, you sign in with your organisation and the access is sent to
<span class="who">{{.Host}}</span>.</p>
<p>Application ID: <span class="uri">{{.ClientID}}</span><br>
Sent back to: <span class="uri">{{.RedirectURI}}</span>{{if .Scopes}}<br>
Access asked of your organisation: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<span class="uri">{{$s}}</span>{{end}}{{end}}</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
`))

// consent shows the consent page for a checked request whose query is raw.
func (p *Proxy) consent(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, req *authRequest, c *store.Client, raw string) {
	issuer := p.issuer(r, t)
	cookie, ok := p.consentCookie(r, issuer)
	if !ok {
		cookie = randomToken()
	}
	host := req.RedirectURI
	if u, err := url.Parse(req.RedirectURI); err == nil {
		host = u.Host
	}
	name := c.ClientName
	if name == "" {
		name = "(unnamed)"
	}
	var buf bytes.Buffer
	err := consentPage.Execute(&buf, consentView{
		Tenant:      t.Name,
		Client:      name,
		ClientID:    c.ClientID,
		Host:        host,
		RedirectURI: req.RedirectURI,
		Scopes:      t.OIDC.Scopes.Or(tenant.DefaultScopes).List(),
		Action:      issuer + AuthorizePath,
		Request:     raw,
		CSRF:        csrfToken(cookie, t.ID, raw),
		Style:       template.CSS(pageStyle),
	})
	if err != nil {
		p.log.ErrorContext(r.Context(), "oauthproxy: rendering the consent page", "tenant", t.ID, "error", err)
		page(w, http.StatusInternalServerError, "Error", "The consent page could not be shown.")
		return
	}
	p.setConsentCookie(w, issuer, cookie)
	setPageHeaders(w, pageCSP)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// validCookieName reports whether s is a cookie name (an RFC 6265 token).
func validCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
