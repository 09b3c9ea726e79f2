package resolve

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/tenant"
)

// outcome names the three answers a resolver can give, for tables.
type outcome int

const (
	found   outcome = iota // a valid ID and a nil error
	missing                // tenant.ErrMissingID
	invalid                // an error wrapping tenant.ErrInvalidID
	failed                 // any other error
)

func (o outcome) String() string {
	return [...]string{"found", "missing", "invalid", "failed"}[o]
}

// classify maps a resolver's answer to its outcome and checks the
// contract every resolver keeps whatever the outcome.
func classify(t testing.TB, id string, err error) outcome {
	t.Helper()
	switch {
	case err == nil:
		if verr := tenant.ValidateID(id); verr != nil {
			t.Fatalf("resolver returned ID %q that fails validation: %v", id, verr)
		}
		return found
	case id != "":
		t.Fatalf("resolver returned ID %q with error %v", id, err)
	case errors.Is(err, tenant.ErrMissingID) && errors.Is(err, tenant.ErrInvalidID):
		t.Fatalf("error %v is both missing and invalid", err)
	case errors.Is(err, tenant.ErrMissingID):
		return missing
	case errors.Is(err, tenant.ErrInvalidID):
		return invalid
	}
	return failed
}

// assertResolves resolves req with r and checks the outcome and the ID.
func assertResolves(t *testing.T, r Resolver, req *http.Request, want outcome, wantID string) {
	t.Helper()
	id, err := r.Resolve(req)
	got := classify(t, id, err)
	assert.Equal(t, want, got, "outcome (err = %v)", err)
	if want == found {
		assert.Equal(t, wantID, id)
	}
}

func hostRequest(host string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Host = host
	return req
}

func TestFunc(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name   string
		id     string
		err    error
		want   outcome
		wantID string
	}{
		{"valid", "acme", nil, found, "acme"},
		{"invalid ID with nil error is refused", "ACME", nil, invalid, ""},
		{"empty ID with nil error is refused", "", nil, invalid, ""},
		{"reserved", "admin", nil, invalid, ""},
		{"missing passes through", "", tenant.ErrMissingID, missing, ""},
		{"ID dropped with an error", "acme", errBoom, failed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Func(func(*http.Request) (string, error) { return tt.id, tt.err })
			assertResolves(t, f, hostRequest("x"), tt.want, tt.wantID)
		})
	}
}
