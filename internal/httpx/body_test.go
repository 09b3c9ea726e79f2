package httpx

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
)

func TestLimitBody(t *testing.T) {
	errTooLarge := errors.New("too large")
	for _, tt := range []struct {
		body    string
		limit   int64
		want    string
		wantErr error
	}{
		{"abc", 3, "abc", nil},
		{"ab", 3, "ab", nil},
		{"", 3, "", nil},
		{"abcd", 3, "abc", errTooLarge},
		{"abcdefgh", 0, "", errTooLarge},
	} {
		closed := false
		b := LimitBody(closer{strings.NewReader(tt.body), &closed}, tt.limit, errTooLarge)
		got, err := io.ReadAll(b)
		assert.Equal(t, tt.want, string(got), tt.body)
		assert.Equal(t, tt.wantErr, err, tt.body)
		assert.NoError(t, b.Close())
		assert.True(t, closed, "Close closes the body")
	}
}

type closer struct {
	io.Reader
	closed *bool
}

func (c closer) Close() error { *c.closed = true; return nil }

// TestLimitBodyKeepsErrorAtLimit checks that a body cut off by an error
// just after limit bytes (a connection dropped before the length it
// announced) fails with that error rather than ending as if complete.
func TestLimitBodyKeepsErrorAtLimit(t *testing.T) {
	closed := false
	rc := closer{io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrUnexpectedEOF)), &closed}
	got, err := io.ReadAll(LimitBody(rc, 3, errors.New("too large")))
	assert.Equal(t, "abc", string(got))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
