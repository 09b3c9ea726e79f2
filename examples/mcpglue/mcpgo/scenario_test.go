package mcpgo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/examples/mcpglue/internal/scenario"
	"github.com/seedmcp/tenancy/examples/mcpglue/mcpgo"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/tenant"
)

// newServer returns a server with the tools of the scenarios. whoami
// reads what the package documentation says a tool may read: the tenant
// and the caller from its context.
func newServer(e *scenario.Env) *server.MCPServer {
	s := server.NewMCPServer("test", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		out := map[string]string{"tenant": "", "subject": ""}
		if t, ok := tenant.FromContext(ctx); ok {
			out["tenant"] = t.ID
		}
		if c, ok := oidcx.ClaimsFromContext(ctx); ok {
			out["subject"] = c.Subject
		}
		return mcp.NewToolResultStructured(out, fmt.Sprint(out)), nil
	})
	s.AddTool(mcp.NewTool("count"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var token mcp.ProgressToken
		if req.Params.Meta != nil {
			token = req.Params.Meta.ProgressToken
		}
		srv := server.ServerFromContext(ctx)
		for i := 1; i <= 3; i++ {
			err := srv.SendNotificationToClient(ctx, "notifications/progress",
				map[string]any{"progressToken": token, "progress": i, "total": 3})
			if err != nil {
				return nil, err
			}
			if !e.Delivered(ctx, float64(i)) {
				return mcp.NewToolResultError(fmt.Sprintf("progress %d did not reach the client while the call ran", i)), nil
			}
		}
		return mcp.NewToolResultText("done"), nil
	})
	return s
}

// sdk is the mcp-go glue under the scenarios.
func sdk() scenario.SDK {
	var s *server.MCPServer
	return scenario.SDK{
		New: func(t *testing.T, e *scenario.Env, guard mcpsession.Config) scenario.Handler {
			s = newServer(e)
			h, err := mcpgo.New(s, mcpgo.Config{Guard: guard})
			require.NoError(t, err)
			return h
		},
		Broadcast: func() { s.SendNotificationToAllClients("notifications/tools/list_changed", nil) },
	}
}

// TestScenario is the scenario that an unguarded host fails, and every
// answer of the guard, on miniredis and on the real Redis.
func TestScenario(t *testing.T) {
	for _, b := range scenario.Backends(t) {
		for _, row := range scenario.Rows {
			t.Run(b.Name+"/"+row.Name, func(t *testing.T) {
				s := sdk()
				row.Run(t, scenario.Start(t, b, s, scenario.Options{}), s)
			})
		}
	}
}

// TestAnonymous checks the hosts that let anonymous callers in: all of
// them are one caller.
func TestAnonymous(t *testing.T) {
	s := sdk()
	e := scenario.Start(t, scenario.Backends(t)[0], s, scenario.Options{Anonymous: true})
	id := e.Open("acme", "")
	a, who := e.Whoami("acme", "", id)
	require.Equal(t, 200, a.Status, "%s", a.Body)
	require.JSONEq(t, scenario.Who("acme", ""), who)
	a, _ = e.Whoami("acme", e.Token("acme", "alice"), id)
	require.Equal(t, 404, a.Status, "an anonymous session is no authenticated caller's")
}

// TestSDKEndsSession checks that a session mcp-go ends on its own (here
// its idle sweeper) leaves the guard and frees its place in the store.
func TestSDKEndsSession(t *testing.T) {
	s := scenario.SDK{New: func(t *testing.T, e *scenario.Env, guard mcpsession.Config) scenario.Handler {
		h, err := mcpgo.New(newServer(e), mcpgo.Config{Guard: guard,
			Options: []server.StreamableHTTPOption{server.WithSessionIdleTTL(100 * time.Millisecond)}})
		require.NoError(t, err)
		return h
	}}
	e := scenario.Start(t, scenario.Backends(t)[0], s, scenario.Options{})
	id := e.Open("acme", e.Token("acme", "alice"))
	require.Eventually(t, func() bool { return e.Handler.Len() == 0 && !e.Stored("acme", id) },
		10*time.Second, 10*time.Millisecond, "the guard learnt that mcp-go ended the session, and freed it")
}
