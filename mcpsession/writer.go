package mcpsession

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// errAnswered is what the handler's writes return once the guard has
// refused its new session and answered the request itself.
var errAnswered = errors.New("mcpsession: the request was answered by the session guard")

// The states of an admitWriter.
const (
	pending  int32 = iota // nothing written yet
	passing               // the handler's answer goes through
	refusing              // the guard answered; the handler's writes are dropped
)

// admitWriter holds back the answer to a request without a session ID
// until the session the handler issues in it (the Mcp-Session-Id header)
// is admitted: the first WriteHeader, Write or Flush admits it, and on a
// refusal the guard's own answer replaces the handler's.
//
// It keeps streaming intact: Flush and FlushError reach the connection
// (SDKs find Flush with a type assertion, http.ResponseController finds
// FlushError), and Unwrap gives http.ResponseController the connection's
// writer for everything else.
type admitWriter struct {
	http.ResponseWriter
	g      *Guard
	ctx    context.Context
	tenant *tenant.Tenant
	owner  store.Owner
	reqID  json.RawMessage
	// saved are the answer's headers before the handler ran (set by the
	// middleware in front: rate-limit headers, say), which a refusal keeps.
	saved http.Header

	mu      sync.Mutex // held while admitting
	state   atomic.Int32
	refused string // the session refused, ended once the handler returns
}

// commit admits the handler's new session, if it issued one, the first
// time the answer is about to leave, and reports whether the handler's
// answer goes through.
func (a *admitWriter) commit() bool {
	switch a.state.Load() {
	case passing:
		return true
	case refusing:
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.state.Load(); st != pending {
		return st == passing
	}
	id := a.ResponseWriter.Header().Get(Header)
	if id == "" {
		a.state.Store(passing)
		return true
	}
	err := a.g.admit(a.ctx, a.tenant, a.owner, id)
	if err == nil {
		a.state.Store(passing)
		return true
	}
	a.state.Store(refusing)
	a.refused = id
	a.refuse(err)
	return false
}

// refuse answers the request in place of the handler.
func (a *admitWriter) refuse(err error) {
	h := a.ResponseWriter.Header()
	clear(h)
	maps.Copy(h, a.saved)
	switch {
	case errors.Is(err, store.ErrOwnerLimit):
		writeError(a.ResponseWriter, http.StatusForbidden, a.reqID, CodeSessionLimit, msgCallerLimit)
	case errors.Is(err, store.ErrLimit):
		writeError(a.ResponseWriter, http.StatusForbidden, a.reqID, CodeSessionLimit, msgTenantLimit)
	case errors.Is(err, errClosed):
		writeError(a.ResponseWriter, http.StatusServiceUnavailable, a.reqID, CodeUnavailable, msgClosing)
	case errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrExists):
		a.g.log.ErrorContext(a.ctx, "mcpsession: the MCP handler issued a session ID the store cannot take", "tenant", a.tenant.ID, "error", err)
		writeError(a.ResponseWriter, http.StatusInternalServerError, a.reqID, CodeInternal, msgInternal)
	default:
		a.g.storeError(a.ctx, "mcpsession: recording a session", a.tenant.ID, err)
		writeError(a.ResponseWriter, http.StatusServiceUnavailable, a.reqID, CodeUnavailable, msgUnavailable)
	}
}

// finish runs after the handler returned: an answer it did not write is
// admitted now, before net/http sends its headers, and a refused session
// is ended in the handler.
func (a *admitWriter) finish() {
	a.commit()
	if a.state.Load() == refusing {
		a.g.cfg.Ender.EndSession(a.refused)
	}
}

func (a *admitWriter) WriteHeader(code int) {
	if a.commit() {
		a.ResponseWriter.WriteHeader(code)
	}
}

func (a *admitWriter) Write(b []byte) (int, error) {
	if !a.commit() {
		return 0, errAnswered
	}
	return a.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (a *admitWriter) Flush() { _ = a.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (a *admitWriter) FlushError() error {
	if !a.commit() {
		return errAnswered
	}
	return http.NewResponseController(a.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (a *admitWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// statusWriter passes everything through, flushes included, and calls
// before with the answer's status once, before any of the answer leaves:
// what the guard does about a status (freeing an ended session's place)
// is done by the time the client can act on the answer.
type statusWriter struct {
	http.ResponseWriter
	before func(status int)
	status int
}

// settle records the status and runs before, once.
func (w *statusWriter) settle(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if w.before != nil {
		w.before(code)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 {
		w.settle(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.settle(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *statusWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *statusWriter) FlushError() error {
	w.settle(http.StatusOK)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// done settles an answer the handler wrote nothing of (net/http sends it
// as 200 once the handler returns).
func (w *statusWriter) done() { w.settle(http.StatusOK) }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher = (*admitWriter)(nil)
	_ http.Flusher = (*statusWriter)(nil)
)
