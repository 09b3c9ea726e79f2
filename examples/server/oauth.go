package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// maxRegistrationBytes bounds the body of a registration request; client
// metadata is a few hundred bytes.
const maxRegistrationBytes = 64 << 10

// registrar serves each tenant's OAuth endpoints: RFC 7591 dynamic client
// registration into the tenant's client store, and the authorization
// endpoint, which checks the client against that store and sends the user
// on to the tenant's own identity provider.
type registrar struct {
	clients store.Clients
	log     *slog.Logger
}

// oauthError is the error answer of RFC 6749 section 5.2 and RFC 7591
// section 3.2.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// register is POST /oauth/register (RFC 7591 section 3). The server
// chooses the client_id; the client is public (token_endpoint_auth_method
// "none"), as MCP clients using PKCE are, since this example has no token
// endpoint that could check a secret.
func (g *registrar) register(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, oauthError{"invalid_client_metadata", "the body must be JSON (Content-Type: application/json)"})
		return
	}
	var c store.Client
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRegistrationBytes))
	if err := dec.Decode(&c); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, oauthError{"invalid_client_metadata", fmt.Sprintf("the body exceeds %d bytes", mbe.Limit)})
			return
		}
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_client_metadata", "the body is not a JSON object"})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_client_metadata", "the body holds more than one JSON value"})
		return
	}
	if e := checkMetadata(&c); e != nil {
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	c.ClientIDIssuedAt = time.Now().Unix()
	var err error
	// A clash of two 128-bit random IDs does not happen; the second try
	// only keeps a broken random source from being silent.
	for range 2 {
		c.ClientID = "mcp-" + strings.ToLower(rand.Text())
		if err = g.clients.Register(r.Context(), t.ID, &c, t.Limits.MaxClients); !errors.Is(err, store.ErrExists) {
			break
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLimit):
		writeJSON(w, http.StatusForbidden, oauthError{Error: "access_denied"})
		return
	default:
		g.log.ErrorContext(r.Context(), "server: registering a client", "tenant", t.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Error: "temporarily_unavailable"})
		return
	}
	g.log.InfoContext(r.Context(), "server: client registered", "tenant", t.ID, "client_id", c.ClientID)
	writeJSON(w, http.StatusCreated, &c)
}

// checkMetadata checks and completes the metadata of a registration, and
// returns the error to answer when it is unacceptable.
func checkMetadata(c *store.Client) *oauthError {
	// Values the server issues are never taken from the request.
	c.ClientID, c.ClientSecret, c.ClientIDIssuedAt, c.ClientSecretExpiresAt = "", "", 0, 0
	if len(c.RedirectURIs) == 0 {
		return &oauthError{"invalid_redirect_uri", "redirect_uris is required"}
	}
	for _, u := range c.RedirectURIs {
		if why := checkRedirectURI(u); why != "" {
			return &oauthError{"invalid_redirect_uri", fmt.Sprintf("%q %s", u, why)}
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
			return &oauthError{"invalid_client_metadata", fmt.Sprintf("grant type %q is not supported", g)}
		}
	}
	if len(c.ResponseTypes) == 0 {
		c.ResponseTypes = []string{"code"}
	}
	for _, rt := range c.ResponseTypes {
		if rt != "code" {
			return &oauthError{"invalid_client_metadata", fmt.Sprintf("response type %q is not supported", rt)}
		}
	}
	return nil
}

// checkRedirectURI returns why u is not an acceptable redirect URI, or "".
// As OAuth 2.1 and the MCP authorization specification ask, it must be an
// absolute https URL, or http on a loopback host for native clients (RFC
// 8252 section 7.3), and it must not have a fragment (RFC 6749 section
// 3.1.2).
func checkRedirectURI(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "is not an absolute URL"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "must not have a fragment"
	case u.User != nil:
		return "must not have user information"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		return ""
	}
	return "must use https (http only on a loopback host)"
}

// authorize is GET /oauth/authorize (RFC 6749 section 4.1.1). It answers
// errors about the client itself directly and never redirects them (section
// 4.1.2.1: an unchecked redirect_uri would make this an open redirector),
// and otherwise sends the user agent on to the tenant's authorization
// endpoint with the query unchanged.
func (g *registrar) authorize(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "the query is malformed"})
		return
	}
	// RFC 6749 section 3.1: parameters must not be included more than
	// once. A repeated one is refused before anything else, so that no
	// value other than the one checked can reach the provider.
	for name, vs := range q {
		if len(vs) > 1 {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", fmt.Sprintf("parameter %q is repeated", name)})
			return
		}
	}
	id := q.Get("client_id")
	if id == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "client_id is required"})
		return
	}
	var c *store.Client
	err = store.ValidKey(id)
	if err == nil {
		c, err = g.clients.Get(r.Context(), t.ID, id)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey):
		// A client of another tenant is unknown here: each tenant's
		// clients live in its own namespace.
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_client", "the client is not registered with this tenant"})
		return
	default:
		g.log.ErrorContext(r.Context(), "server: reading a client", "tenant", t.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, oauthError{Error: "temporarily_unavailable"})
		return
	}
	redirect, given := q.Get("redirect_uri"), q.Has("redirect_uri")
	switch {
	case given && slices.Contains(c.RedirectURIs, redirect):
	case !given && len(c.RedirectURIs) == 1:
		// RFC 6749 section 3.1.2.3: with a single registered URI the
		// parameter may be left out. The provider is told explicitly.
		redirect = c.RedirectURIs[0]
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "redirect_uri is missing or not registered for this client"})
		return
	}
	if t.OIDC.AuthorizationURL == "" {
		// A configuration gap of the tenant, not a mistake of the client.
		writeJSON(w, http.StatusNotImplemented, oauthError{"server_error", "the tenant has no authorization endpoint (oidc.authorizationUrl)"})
		return
	}
	query := r.URL.RawQuery
	if !given {
		query += "&redirect_uri=" + url.QueryEscape(redirect)
	}
	target := t.OIDC.AuthorizationURL
	if strings.Contains(target, "?") {
		target += "&" + query
	} else {
		target += "?" + query
	}
	http.Redirect(w, r, target, http.StatusFound)
}
