package hosts_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxGlue is the most lines of code a host may need to become
// multi-tenant: everything between its "glue begins" and "glue ends"
// comments, blank lines and comments aside. The host's own application
// (its API, its MCP tools) and the test are outside.
const maxGlue = 40

// TestGlueLines counts the glue of each host.
func TestGlueLines(t *testing.T) {
	hosts := map[string]string{
		"servemux": "servemux_test.go",
		"gosdk":    "gosdk_test.go",
		"mcpgo":    "mcpgo_test.go",
		"chi":      "chi_test.go",
		"newuser":  "newuser_test.go",
	}
	for name, file := range hosts {
		t.Run(name, func(t *testing.T) {
			n := glueLines(t, file, name)
			t.Logf("%s: %d lines of glue", name, n)
			assert.Positive(t, n)
			assert.Less(t, n, maxGlue)
		})
	}
}

// glueLines counts the lines of code of file between "// glue begins:
// name" and "// glue ends: name".
func glueLines(t *testing.T, file, name string) int {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	n, in, ended := 0, false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "// glue begins: "+name:
			in = true
		case line == "// glue ends: "+name:
			require.True(t, in, "%s: glue ends before it begins", file)
			in, ended = false, true
		case in && line != "" && !strings.HasPrefix(line, "//"):
			n++
		}
	}
	require.NoError(t, sc.Err())
	require.True(t, ended, "%s: no glue markers for %s", file, name)
	return n
}
