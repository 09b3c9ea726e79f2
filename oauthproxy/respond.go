package oauthproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seedmcp/tenancy/internal/httpx"
)

// Answers that never change, computed once.
var (
	bodyServerError      = errorBody("server_error", "")
	bodyNotFound         = errorBody("not_found", "")
	bodyMethodNotAllowed = errorBody("method_not_allowed", "")
)

// oauthError is the error answer of RFC 6749 section 5.2 and RFC 7591
// section 3.2.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func errorBody(code, description string) []byte {
	b, _ := json.Marshal(oauthError{code, description})
	return b
}

// writeJSON writes body, which is JSON, with the headers RFC 6749 section
// 5.1 asks of every answer that may carry a token: never stored by a cache.
// Pragma is for HTTP/1.0 caches; the rest is every JSON answer's.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSON(w, status, body)
}

// writeValue writes v as JSON.
func writeValue(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	writeJSON(w, status, body)
}

// writeError writes an RFC 6749 error answer.
func writeError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, errorBody(code, description))
}

// The pages' only style sheet. The Content-Security-Policy allows exactly
// this text by its hash: no other style, no script, no image, no frame.
const pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em;color:#222}` +
	`h1{font-size:1.4em}.who{font-weight:bold}.uri{font-family:monospace;word-break:break-all;font-size:.9em;color:#555}` +
	`.warn{background:#fff4e5;border:1px solid #f0c36d;padding:.6em .8em}form{margin-top:1.5em}` +
	`button{font:inherit;padding:.5em 1.4em;margin-right:1em}`

var styleHash = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// pageCSP is the policy of every page: nothing is loaded or run but the
// style sheet above, and nothing may frame the page (clickjacking of the
// consent). There is no form-action: browsers apply it to every redirect
// that follows a form, and after the consent that chain runs through the
// provider's login hosts, which nobody can list in advance.
var pageCSP = "default-src 'none'; style-src " + styleHash + "; base-uri 'none'; frame-ancestors 'none'"

// setPageHeaders sets the headers of an HTML page.
func setPageHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title><style>{{.Style}}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Link}}<p><a href="{{.Link}}">Return to {{.LinkHost}}</a></p>{{end}}</body></html>
`))

// page answers a browser with an error page. Nothing of the request is
// shown: the messages are the proxy's own.
func page(w http.ResponseWriter, status int, title, message string) {
	linkedPage(w, status, title, message, nil)
}

// linkedPage is page with a link the user may follow back to link's host
// (nil for none).
func linkedPage(w http.ResponseWriter, status int, title, message string, link *url.URL) {
	view := struct {
		Title, Message string
		Link, LinkHost string
		Style          template.CSS
	}{Title: title, Message: message, Style: template.CSS(pageStyle)}
	if link != nil {
		view.Link, view.LinkHost = link.String(), link.Host
	}
	var buf bytes.Buffer
	_ = errorPage.Execute(&buf, view)
	setPageHeaders(w, pageCSP)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect sends the browser to target without a body, without a cache,
// and without a Referer that could carry this URL's code or state on.
func redirect(w http.ResponseWriter, target string, status int) {
	h := w.Header()
	h.Set("Location", target)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
}

// withParams appends params to the query of uri, keeping the query uri
// already has exactly as it is (RFC 6749 section 3.1.2).
func withParams(uri string, params url.Values) string {
	enc := params.Encode()
	switch {
	case enc == "":
		return uri
	case strings.Contains(uri, "?"):
		if strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&") {
			return uri + enc
		}
		return uri + "&" + enc
	}
	return uri + "?" + enc
}

// remoteIP is the default ClientAddr: the IP of the connection's peer.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
