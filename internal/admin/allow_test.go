package admin

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAllowOfTenantsNamedLikeRoutes: the Allow header of a 405 follows the
// route, not the end of the path: tenants may be called "keys", "usage"
// or "audit", and their own path was answered with the Allow of the route
// of that name.
func TestAllowOfTenantsNamedLikeRoutes(t *testing.T) {
	w := newWorld(t)
	for _, id := range []string{"keys", "usage", "audit"} {
		w.create(t, `{"id":"`+id+`","name":"`+id+`"}`)
	}
	for path, want := range map[string]string{
		"/admin/tenants/keys":                  "GET, HEAD, PATCH, DELETE",
		"/admin/tenants/usage":                 "GET, HEAD, PATCH, DELETE",
		"/admin/tenants/audit":                 "GET, HEAD, PATCH, DELETE",
		"/admin/tenants/acme":                  "GET, HEAD, PATCH, DELETE",
		"/admin/tenants/keys/keys":             "GET, HEAD, POST",
		"/admin/tenants/usage/usage":           "GET, HEAD",
		"/admin/tenants/audit/audit":           "GET, HEAD",
		"/admin/tenants":                       "GET, HEAD, POST",
		"/admin/tenants/keys/keys/" + w.acmeID: "DELETE",
	} {
		rep := w.do(t, req{method: "PUT", path: path})
		assert.Equal(t, http.StatusMethodNotAllowed, rep.Code, path)
		assert.Equal(t, want, rep.Header().Get("Allow"), path)
	}
}
