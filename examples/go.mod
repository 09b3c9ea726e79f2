module github.com/seedmcp/tenancy/examples

go 1.26

replace github.com/seedmcp/tenancy => ..

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
	github.com/seedmcp/tenancy v0.0.0 // indirect
)
