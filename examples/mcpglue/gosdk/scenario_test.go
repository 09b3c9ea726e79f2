package gosdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/examples/mcpglue/gosdk"
	"github.com/seedmcp/tenancy/examples/mcpglue/internal/scenario"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/tenant"
)

type whoami struct {
	Tenant  string `json:"tenant"`
	Subject string `json:"subject"`
}

// newServer returns a server with the tools of the scenarios. whoami
// reads what the package documentation says a tool may read: the tenant
// from its context, the caller from the request's TokenInfo.
func newServer(t *testing.T, e *scenario.Env) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
		var out whoami
		if tn, ok := tenant.FromContext(ctx); ok {
			out.Tenant = tn.ID
		}
		if ti := req.Extra.TokenInfo; ti != nil {
			out.Subject = ti.UserID
			if ti.Extra["tenant"] != out.Tenant {
				t.Errorf("the request's tenant %v is not the session's %s", ti.Extra["tenant"], out.Tenant)
			}
		}
		return nil, out, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "count"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		for i := 1; i <= 3; i++ {
			err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: req.Params.GetProgressToken(), Progress: float64(i), Total: 3})
			if err != nil {
				return nil, nil, err
			}
			if !e.Delivered(ctx, float64(i)) {
				return nil, nil, fmt.Errorf("progress %d did not reach the client while the call ran", i)
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	})
	return s
}

// sdk is the go-sdk glue under the scenarios.
func sdk() scenario.SDK {
	var server *mcp.Server
	n := 0
	return scenario.SDK{
		New: func(t *testing.T, e *scenario.Env, guard mcpsession.Config) scenario.Handler {
			server = newServer(t, e)
			h, err := gosdk.New(server, gosdk.Config{Guard: guard})
			require.NoError(t, err)
			return h
		},
		Broadcast: func() {
			// Adding a tool tells every session that the list changed.
			n++
			server.AddTool(&mcp.Tool{Name: "extra" + string(rune('a'+n%26)), InputSchema: map[string]any{"type": "object"}},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
		},
	}
}

// TestScenario is the scenario that an unguarded host fails, on miniredis
// and on the real Redis.
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

// TestAnonymous runs the scenario's rows for hosts that let anonymous
// callers in: all of them are one caller.
func TestAnonymous(t *testing.T) {
	b := scenario.Backends(t)[0]
	s := sdk()
	e := scenario.Start(t, b, s, scenario.Options{Anonymous: true})
	id := e.Open("acme", "")
	a, who := e.Whoami("acme", "", id)
	require.Equal(t, 200, a.Status, "%s", a.Body)
	require.JSONEq(t, scenario.Who("acme", ""), who)
	a, _ = e.Whoami("acme", e.Token("acme", "alice"), id)
	require.Equal(t, 404, a.Status, "an anonymous session is no authenticated caller's")
}

// TestSDKEndsSession checks that a session the SDK ends on its own (here
// its SessionTimeout) leaves the guard and frees its place in the store.
func TestSDKEndsSession(t *testing.T) {
	s := scenario.SDK{New: func(t *testing.T, e *scenario.Env, guard mcpsession.Config) scenario.Handler {
		h, err := gosdk.New(newServer(t, e), gosdk.Config{Guard: guard,
			HTTP: &mcp.StreamableHTTPOptions{SessionTimeout: 50 * time.Millisecond}})
		require.NoError(t, err)
		return h
	}}
	e := scenario.Start(t, scenario.Backends(t)[0], s, scenario.Options{})
	id := e.Open("acme", e.Token("acme", "alice"))
	require.Eventually(t, func() bool { return e.Handler.Len() == 0 && !e.Stored("acme", id) },
		10*time.Second, 10*time.Millisecond, "the guard learnt that the SDK ended the session, and freed it")
}
