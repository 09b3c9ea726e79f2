// Package httpx writes the JSON answers that every tenancy handler shares,
// so that refusals look the same wherever they come from.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// WriteJSON writes body, which must already be JSON, with the given status.
// The answer is never cached and never sniffed, and carries its length so
// that two answers with the same body are byte-identical on the wire.
func WriteJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Error writes {"error":msg} with the given status.
func Error(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody(msg))
}

// ErrorBody returns the JSON {"error":msg}. Handlers with fixed messages
// compute it once, at start-up.
func ErrorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}

// CeilSeconds rounds d up to whole seconds, as the Retry-After header
// (RFC 9110 section 10.2.3) and the RateLimit headers count them: a client
// told to wait 0.2 s waits 1 s rather than retrying at once. It is 0 for d
// <= 0, and does not overflow for the longest d.
func CeilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return int(s)
}

// The header values are shared slices: handlers must not modify them, and
// sharing them keeps the hot path of a refusal free of allocations.
var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)
