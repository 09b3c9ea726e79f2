package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// writeJSON writes v as the JSON body of an answer that is never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// hostAllowed is the MCP SDK's protection against DNS rebinding, widened
// to the hosts this server serves. The SDK refuses a request that reached
// a loopback address with a Host other than localhost or a loopback IP: a
// page on evil.example whose name an attacker re-points at 127.0.0.1 must
// not reach a local server with the browser's cookies or from inside the
// network. That check also refuses acme.localhost, the tenants' hosts in
// subdomain mode, so the SDK's own check is switched off
// (StreamableHTTPOptions.DisableLocalhostProtection) and this one takes its
// place. On a loopback connection it accepts, besides what the SDK
// accepts, names under .localhost (RFC 6761 keeps them on the loopback
// interface, so no attacker can point one elsewhere), the host of
// PUBLIC_URL, names under TENANT_BASE_DOMAIN in subdomain mode, and the
// tenant's own custom domain: all of them names the operator controls.
// Requests that reached a non-loopback address are not checked, as in the
// SDK.
func hostAllowed(r *http.Request, publicHost, baseSuffix string) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !loopbackHost(splitHost(local.String())) {
		return true
	}
	if strings.EqualFold(r.Host, publicHost) {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(splitHost(r.Host)), ".")
	switch {
	case loopbackHost(host), strings.HasSuffix(host, ".localhost"):
		return true
	case baseSuffix != "" && strings.HasSuffix(host, baseSuffix):
		return true
	}
	t, ok := tenant.FromContext(r.Context())
	return ok && t.Domain != "" && host == t.Domain
}

// guardHost answers 403 to requests whose Host allowed refuses, as the MCP
// SDK's own DNS rebinding protection does.
func guardHost(allowed func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid Host header"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// splitHost returns the host of host:port, or s when it has no port.
func splitHost(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return strings.Trim(s, "[]")
}

// loopbackHost reports whether host is localhost or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
