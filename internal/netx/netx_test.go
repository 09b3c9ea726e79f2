package netx

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsLoopback(t *testing.T) {
	for _, h := range []string{"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "127.8.9.10", "::1", "::ffff:127.0.0.1"} {
		assert.True(t, IsLoopback(h), h)
	}
	for _, h := range []string{"", "localhost.", "a.localhost", "localhost.evil.com", "example.com", "10.0.0.1", "::", "::2", "[::1]", "127.0.0.1:80"} {
		assert.False(t, IsLoopback(h), h)
	}
}

func TestIsLoopbackName(t *testing.T) {
	for _, h := range []string{"localhost", "LOCALHOST.", "acme.localhost", "a.b.LocalHost.", "127.0.0.1", "::1"} {
		assert.True(t, IsLoopbackName(h), h)
	}
	for _, h := range []string{"", ".", "localhost.evil.com", "evillocalhost", "localhost..", "example.com", "10.0.0.1", "[::1]"} {
		assert.False(t, IsLoopbackName(h), h)
	}
}
