package tenancy_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
)

// TestREADMEListsEveryVariable fails when ConfigFrom reads an environment
// variable that the README's table of environment variables does not
// list, so that a variable added to the code cannot stay undocumented.
// Every variable is read even when none is set, so an empty environment
// names them all.
func TestREADMEListsEveryVariable(t *testing.T) {
	var read []string
	_, err := tenancy.ConfigFrom(func(name string) string {
		read = append(read, name)
		return ""
	})
	require.NoError(t, err)
	require.NotEmpty(t, read)

	listed := readmeVariables(t, "README.md")
	for _, name := range read {
		assert.Contains(t, listed, name, "ConfigFrom reads %s, which README.md's table of environment variables does not list", name)
	}
}

// tableRow matches a row of the README's variable table and captures the
// variable's name.
var tableRow = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\|")

// readmeVariables returns the variables of the table in the README section
// "### Environment variables".
func readmeVariables(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var names []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			in = line == "### Environment variables"
			continue
		}
		if m := tableRow.FindStringSubmatch(line); in && m != nil {
			require.False(t, slices.Contains(names, m[1]), "%s is listed twice", m[1])
			names = append(names, m[1])
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, names, "README.md has no table under ### Environment variables")
	return names
}
