package main

import (
	"encoding/json"
	"net/http"
	"time"
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

// newHTTPServer returns the HTTP server of h, with the timeouts that keep a
// client from holding one of its connections (and the goroutine serving
// it) forever: one that trickles a request's headers or body, or keeps an
// idle connection alive. There is no write timeout, which would cut the
// event streams of MCP sessions; the server stops reading from a client
// once its request is read, so these bound no answer.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
	}
}

// The timeouts of the HTTP server, variables so that tests can shorten them.
var (
	// readHeaderTimeout bounds the reading of a request's headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds the reading of a whole request, headers and
	// body: bodies here are at most tens of KiB.
	readTimeout = 30 * time.Second
	// idleTimeout closes a kept-alive connection that sends no new
	// request.
	idleTimeout = 2 * time.Minute
)
