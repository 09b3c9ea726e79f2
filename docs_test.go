package tenancy_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// privateDoc matches a mention of the team's own design notes, which are
// not part of the project: the documentation, comments and tests say what
// a user needs in their own words instead of pointing there.
var privateDoc = regexp.MustCompile(`(?i)\bdesign(\.md\b|\s+sections?\s+[0-9])`)

// TestDocsStandAlone reads every text file of both modules (Go files,
// READMEs and other documents, scripts) and fails on any that points at
// documents outside the repository instead of saying what it means.
// Fuzz corpora under testdata hold arbitrary bytes and are left out, as
// are the Redis state directory and go.sum files.
func TestDocsStandAlone(t *testing.T) {
	var read int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".redis", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case "go.sum", "go.work.sum":
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(b) > 1<<20 || bytes.IndexByte(b, 0) >= 0 {
			return nil // not a document
		}
		read++
		for i, line := range bytes.Split(b, []byte("\n")) {
			if m := privateDoc.Find(line); m != nil {
				t.Errorf("%s:%d names %q; say what the reader needs instead", path, i+1, m)
			}
		}
		return nil
	})
	require.NoError(t, err)
	// The walk must have reached both modules' documents and code.
	assert.Greater(t, read, 100, "files read")
	for _, f := range []string{"README.md", "doc.go", "examples/server/doc.go"} {
		_, err := os.Stat(f)
		assert.NoError(t, err, "the walk starts at the repository root")
	}
}

// TestREADMEStartsWithTheTwoCommands: README opens with the command that
// runs the example server and the one that runs every test, and the CI
// script runs exactly that test command, so that what a newcomer runs is
// what CI runs.
func TestREADMEStartsWithTheTwoCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindAllSubmatch(readme, 2)
	require.Len(t, blocks, 2, "README's first two shell blocks")
	assert.Equal(t, "go run ./examples/server", string(blocks[0][1]))
	ci, err := os.ReadFile(filepath.Join(".ci", "run"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^readonly TEST_CMD='([^']+)'$`).FindSubmatch(ci)
	require.NotNil(t, m, ".ci/run sets TEST_CMD")
	assert.Equal(t, string(m[1]), string(blocks[1][1]), "README's test command is the one CI runs")
	assert.Contains(t, string(ci), `$TEST_CMD`, ".ci/run runs TEST_CMD")
}
