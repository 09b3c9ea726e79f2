package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/examples/mcpglue/gosdk"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/tenant"
)

// sessionHeader is the header of the MCP Streamable HTTP transport that
// carries the session ID.
const sessionHeader = mcpsession.Header

// sessionClock is the clock of the session guard; tests move it to make
// sessions idle.
var sessionClock = time.Now

var implementation = &mcp.Implementation{Name: "tenancy-example", Version: "1.0.0"}

// whoami is the structured output of the whoami tool.
type whoami struct {
	Tenant  string `json:"tenant"`
	Subject string `json:"subject"`
}

// newMCPHandler returns the MCP endpoint: the official Go SDK with the
// whoami tool, behind the library's session guard, which makes every
// session belong to the tenant and the caller that opened it (the SDK
// alone would serve any request that names a session it knows, whatever
// the tenant).
func newMCPHandler(svc *tenancy.Service, hosts mcpglue.Hosts, logger *slog.Logger) (*gosdk.Handler, error) {
	server := mcp.NewServer(implementation, nil)
	mcp.AddTool(server, &mcp.Tool{
		Name:        "whoami",
		Description: "Names the tenant of this MCP endpoint and the subject of the caller's token (empty when anonymous).",
	}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
		// The SDK runs tools with the context of the request that opened
		// the session, whose tenant the guard holds the session to; the
		// current request's caller is its TokenInfo.
		var out whoami
		if t, ok := tenant.FromContext(ctx); ok {
			out.Tenant = t.ID
			svc.Usage().ToolCall(t.ID, "whoami")
		}
		if req.Extra != nil && req.Extra.TokenInfo != nil {
			out.Subject = req.Extra.TokenInfo.UserID
		}
		return nil, out, nil
	})
	return gosdk.New(server, gosdk.Config{
		Guard: mcpsession.Config{
			Sessions: svc.Store().Sessions(),
			Tenants:  svc.Store().Tenants(),
			TTL:      svc.Config().SessionTTL,
			Logger:   logger,
			Now:      sessionClock,
			OnOpen:   svc.Usage().SessionOpened,
		},
		// Answers are plain JSON, which reads well with curl; the SDK
		// client accepts both forms.
		HTTP:  &mcp.StreamableHTTPOptions{JSONResponse: true, Logger: logger},
		Hosts: hosts,
	})
}

// allowedHosts returns the protection against DNS rebinding of /mcp: the
// host of PUBLIC_URL and, in subdomain mode, the names under
// TENANT_BASE_DOMAIN are accepted besides loopback names, names under
// .localhost and the tenants' custom domains (see mcpglue.Hosts).
func allowedHosts(cfg config, tc tenancy.Config) mcpglue.Hosts {
	var h mcpglue.Hosts
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		h.Public = []string{strings.ToLower(u.Host)}
	}
	if tc.MultiTenant && tc.Identification == tenancy.BySubdomain {
		h.BaseDomain = tc.BaseDomain
	}
	return h
}
