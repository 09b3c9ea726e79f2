package gosdk_test

import (
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/seedmcp/tenancy/examples/mcpglue/gosdk"
	"github.com/seedmcp/tenancy/examples/mcpglue/internal/scenario"
	"github.com/seedmcp/tenancy/mcpsession"
)

// BenchmarkSessionMemory reports what one open session of the official Go
// SDK holds behind the guard: run with -benchtime=2000x.
func BenchmarkSessionMemory(b *testing.B) {
	scenario.BenchmarkSessionMemory(b, func(guard mcpsession.Config) scenario.Handler {
		server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
		h, err := gosdk.New(server, gosdk.Config{Guard: guard})
		if err != nil {
			b.Fatal(err)
		}
		return h
	})
}
