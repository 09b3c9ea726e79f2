package mcpglue_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEWiring checks that each MCP wiring block of the README and of
// the root package's documentation is the code its package's Example runs: every line of the block, with
// whitespace runs folded, appears in the example, in the same order. So
// the wiring users paste is the one the examples test.
func TestREADMEWiring(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks := goBlocks(string(data), "### MCP: every session belongs to its tenant and its caller")
	require.Len(t, blocks, 2, "the README shows one block for each SDK")
	doc, err := os.ReadFile(filepath.Join("..", "..", "doc.go"))
	require.NoError(t, err)
	docBlocks := commentBlocks(string(doc), "# MCP sessions")
	require.Len(t, docBlocks, 2, "doc.go shows one block for each SDK")
	blocks = append(blocks, docBlocks...)
	for i, example := range []string{"gosdk/example_test.go", "mcpgo/example_test.go", "gosdk/example_test.go", "mcpgo/example_test.go"} {
		code, err := os.ReadFile(example)
		require.NoError(t, err)
		lines := normalized(string(code))
		at := 0
		for _, want := range normalized(blocks[i]) {
			found := false
			for at < len(lines) {
				at++
				if lines[at-1] == want {
					found = true
					break
				}
			}
			require.True(t, found, "%s does not run the README's line %q (or not in this order)", example, want)
		}
	}
}

// goBlocks returns the go code blocks of the README section with the given
// heading.
func goBlocks(readme, heading string) []string {
	var blocks []string
	var cur strings.Builder
	in, inBlock := false, false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			in = line == heading
		case !in:
		case line == "```go":
			inBlock = true
			cur.Reset()
		case inBlock && line == "```":
			inBlock = false
			blocks = append(blocks, cur.String())
		case inBlock:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// commentBlocks returns the code blocks (tab-indented comment lines) of the
// Go package documentation after the heading.
func commentBlocks(src, heading string) []string {
	var blocks []string
	var cur strings.Builder
	in, inBlock := false, false
	for _, line := range strings.Split(src, "\n") {
		text, isComment := strings.CutPrefix(line, "//")
		switch {
		case !isComment:
			in = false
		case strings.TrimSpace(text) == heading:
			in = true
		case !in:
		case strings.HasPrefix(text, "\t"):
			inBlock = true
			cur.WriteString(text + "\n")
		case inBlock:
			inBlock = false
			blocks = append(blocks, cur.String())
			cur.Reset()
		}
	}
	return blocks
}

// normalized returns the non-blank lines of code with whitespace runs
// folded to one space.
func normalized(code string) []string {
	var out []string
	for _, l := range strings.Split(code, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}
