package httpx

import (
	"errors"
	"io"
	"strings"
	"testing"

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
