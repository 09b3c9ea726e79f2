package mcpsession

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// JSON-RPC error codes of the answers the guard writes itself. The -32000
// to -32099 range is the implementation's (JSON-RPC 2.0 section 5.1).
const (
	// CodeSessionLimit answers an initialize at the tenant's maxSessions or
	// at the caller's limit (HTTP 403).
	CodeSessionLimit = -32000
	// CodeSessionNotFound answers a request naming a session the tenant
	// does not hold or the caller does not own (HTTP 404).
	CodeSessionNotFound = -32001
	// CodeUnavailable answers a request the session store could not serve,
	// or one that arrived while the guard was closing (HTTP 503).
	CodeUnavailable = -32002
	// CodeInvalidRequest is JSON-RPC's own "Invalid Request" (HTTP 400 or
	// 413).
	CodeInvalidRequest = -32600
	// CodeInternal is JSON-RPC's own "Internal error" (HTTP 500): the guard
	// is wired wrongly, or the handler issued a session ID the store cannot
	// hold.
	CodeInternal = -32603
)

// The messages of the guard's answers.
const (
	msgNotFound      = "Session not found"
	msgTenantLimit   = "Session limit reached for this tenant: end a session and try again"
	msgCallerLimit   = "Session limit reached for this caller: end a session and try again"
	msgUnavailable   = "Session store unavailable"
	msgClosing       = "Server is shutting down"
	msgBody          = "the request body could not be read"
	msgRepeated      = "a request names at most one session"
	msgInternal      = "Internal error"
	retryAfterSecond = 5
)

// rpcError is a JSON-RPC error response (JSON-RPC 2.0 section 5.1).
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorObject  `json:"error"`
}

type rpcErrorObject struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// notFoundBody is the answer to a session the request may not use,
// computed once: a flood of made-up session IDs costs no encoding.
var notFoundBody = encodeError(nil, CodeSessionNotFound, msgNotFound)

// encodeError returns the JSON of an error response with a trailing
// newline; id is null when the request's ID is unknown.
func encodeError(id json.RawMessage, code int, msg string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	var buf bytes.Buffer
	// The fields are plain values: encoding cannot fail.
	_ = json.NewEncoder(&buf).Encode(rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorObject{Code: code, Message: msg}})
	return buf.Bytes()
}

// writeBody writes a JSON answer that is never cached.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSecond))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes a JSON-RPC error response with an HTTP status, as the
// Streamable HTTP transport does for requests it refuses.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	writeBody(w, status, encodeError(id, code, msg))
}

// requestID returns the ID to echo in an error answer to body, a JSON-RPC
// message or batch: the initialize request's, otherwise the first
// request's. It returns nil when there is none or the body is not JSON.
func requestID(body []byte) json.RawMessage {
	type message struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	var batch []message
	if err := json.Unmarshal(body, &batch); err != nil {
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			return nil
		}
		batch = []message{m}
	}
	var first json.RawMessage
	for _, m := range batch {
		if len(m.ID) == 0 || m.Method == "" {
			continue
		}
		if m.Method == "initialize" {
			return m.ID
		}
		if first == nil {
			first = m.ID
		}
	}
	return first
}
