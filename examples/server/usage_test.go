package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/usage"
)

// TestUsageAndAuditOfTheExample: the example counts what a tenant does
// (requests, sessions, tool calls, refused tokens) and serves it at the
// admin API's usage route; refused tokens and admin changes are in the
// tenant's audit trail; a tenant key reads both.
func TestUsageAndAuditOfTheExample(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb, mini := b.open(t)
			h := start(t, rdb, mini, config{
				AuthRequired: true,
				Tenancy: tenancy.Config{
					MultiTenant:    true,
					Identification: tenancy.BySubdomain,
					AdminAPIKey:    adminKey,
					OIDC:           oidcx.Config{InsecureAllowLoopback: true},
				},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			idp := oidctest.New(t)
			a := h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME", "oidc": tenantOIDC(idp, "aud-acme")})
			require.Equal(t, http.StatusCreated, a.status, "%s", a.body)

			cs, err := h.connect(ctx, "acme", idp.Token(idp.Claims("aud-acme", "alice")))
			require.NoError(t, err)
			for range 2 {
				_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
				require.NoError(t, err)
			}
			require.NoError(t, cs.Close())
			require.Equal(t, http.StatusUnauthorized, h.mcpPost("acme", "", "", initialize).status)
			require.Equal(t, http.StatusUnauthorized, h.mcpPost("acme", "not-a-token", "", initialize).status)

			// The counts are written every interval and at Close; the
			// test writes them now instead of waiting. The refusals'
			// events are written in the background: wait for them, so
			// that they come before the key's creation in the trail.
			require.NoError(t, h.srv.svc.Usage().Flush(ctx))
			h.srv.svc.Audit().Close()
			a = h.admin(http.MethodPost, "/acme/keys", nil)
			require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
			key := a.json(t)["key"].(string)

			read := func(path string) []byte {
				req := h.request(http.MethodGet, "", h.public+"/admin/tenants/acme"+path, nil, "X-Admin-API-Key", key)
				a := h.do(req)
				require.Equal(t, http.StatusOK, a.status, "%s", a.body)
				return a.body
			}
			var rep usage.Report
			require.NoError(t, json.Unmarshal(read("/usage"), &rep))
			got := rep.Total
			assert.Equal(t, int64(1), got.SessionsOpened)
			assert.Equal(t, map[string]int64{"whoami": 2}, got.ToolCalls)
			assert.Equal(t, int64(2), got.AuthRefused)
			assert.GreaterOrEqual(t, got.Served, int64(2+3), "the refused requests and the session's own went through the tenant check")

			var page audit.Page
			require.NoError(t, json.Unmarshal(read("/audit"), &page))
			var kinds []string
			for _, e := range page.Events {
				kinds = append(kinds, e.Type+":"+e.Action+e.Reason)
			}
			require.Len(t, kinds, 4, "%v", kinds)
			assert.Equal(t, "admin:tenant.create", kinds[0])
			// The two refusals are written in the background, in either
			// order.
			assert.ElementsMatch(t, []string{"auth_refused:missing_token", "auth_refused:invalid_token"}, kinds[1:3])
			assert.Equal(t, "admin:key.create", kinds[3])
			assert.Equal(t, "operator-1", page.Events[0].Actor)
			assert.Equal(t, store.AuditAuthRefused, page.Events[1].Type)
		})
	}
}
