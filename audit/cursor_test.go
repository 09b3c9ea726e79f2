package audit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
)

// cursorSeen keeps the cursor a Read passed to the store.
type cursorSeen struct {
	store.Audit
	after string
}

func (c *cursorSeen) Read(_ context.Context, _, after string, _ int) ([]store.AuditEvent, error) {
	c.after = after
	return nil, nil
}

// TestCursorWithoutLeadingZeros: the store is given an event ID as it
// makes them (Redis refuses the greatest ID with zeros in front as the
// start of a range), and a cursor that is no event ID unchanged.
func TestCursorWithoutLeadingZeros(t *testing.T) {
	seen := &cursorSeen{}
	f := newFixture(t, Config{Store: seen})
	for after, want := range map[string]string{
		"":                        "",
		"7-0":                     "7-0",
		"007-00":                  "7-0",
		"0-0":                     "0-0",
		"018446744073709551615-0": "18446744073709551615-0",
		"nope":                    "nope",
		"1-2-3":                   "1-2-3",
	} {
		_, err := f.trail.Read(t.Context(), "acme", after, 1)
		require.NoError(t, err)
		assert.Equal(t, want, seen.after, after)
	}
}
