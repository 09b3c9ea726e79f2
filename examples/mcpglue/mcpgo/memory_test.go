package mcpgo_test

import (
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/seedmcp/tenancy/examples/mcpglue/internal/scenario"
	"github.com/seedmcp/tenancy/examples/mcpglue/mcpgo"
	"github.com/seedmcp/tenancy/mcpsession"
)

// BenchmarkSessionMemory reports what one open session of mcp-go holds
// behind the guard: run with -benchtime=2000x.
func BenchmarkSessionMemory(b *testing.B) {
	scenario.BenchmarkSessionMemory(b, func(guard mcpsession.Config) scenario.Handler {
		h, err := mcpgo.New(server.NewMCPServer("bench", "1"), mcpgo.Config{Guard: guard})
		if err != nil {
			b.Fatal(err)
		}
		return h
	})
}
