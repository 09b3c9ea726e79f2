package mcpsession

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/oidcx"
)

// An event stream lasts no longer than the token it was opened with (and
// the verifier's skew): a caller whose token lapses, say because the
// provider stopped renewing it, stops receiving the session's messages;
// its client opens the stream again with a valid token. The session
// itself stays, for the owner's next token.
func TestStreamEndsWithItsToken(t *testing.T) {
	h := newHarness(t)
	id := h.open("acme", alice)
	r := h.request(http.MethodGet, "acme", alice, id, "")
	expiry := time.Now().Add(300*time.Millisecond - oidcx.DefaultSkew)
	r = r.WithContext(oidcx.NewContext(r.Context(),
		&oidcx.Claims{TenantID: "acme", Issuer: alice.iss, Subject: alice.sub, Expiry: expiry}))
	streaming, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		h.guard.ServeHTTP(&notifyRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: streaming}, r)
	}()
	<-streaming
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after its token expired")
	}
	assert.True(t, h.sdk.holds(id), "the session stays")
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", alice, id, `{}`).Code)
}
