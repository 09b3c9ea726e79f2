package admin

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockoutCoversTheIPv6Prefix: a host on IPv6 is given a /64, 2^64
// addresses, and counted by each one it got a fresh allowance of wrong
// keys for every guess, which is what the limit is there to prevent.
// Failures count against the /64; IPv4 addresses, an IPv4 address written
// as IPv6, and other /64s stay apart, and the log and the trail keep the
// whole address.
func TestLockoutCoversTheIPv6Prefix(t *testing.T) {
	f := newFixture(t)
	for i := range DefaultMaxFailures {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)
		w := f.do(t, req{method: "GET", path: "/admin/tenants", key: str("guess"), remote: remote})
		require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
	}
	for _, remote := range []string{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", "[2001:db8:1:2::1%eth0]:1"} {
		w := f.do(t, req{method: "GET", path: "/admin/tenants", remote: remote})
		assert.Equal(t, http.StatusTooManyRequests, w.Code, "another address of the /64 (%s) is locked out too", remote)
	}
	for _, remote := range []string{"[2001:db8:1:3::1]:1", "198.51.100.7:1", "[::ffff:198.51.100.8]:1"} {
		w := f.do(t, req{method: "GET", path: "/admin/tenants", remote: remote})
		assert.Equal(t, http.StatusOK, w.Code, remote)
	}
	assert.Contains(t, f.logs.String(), `"remote":"2001:db8:1:2::a"`, "the log names the address itself")

	v4 := newFixture(t)
	for i := range DefaultMaxFailures {
		v4.do(t, req{method: "GET", path: "/admin/tenants", key: str("guess"), remote: fmt.Sprintf("[::ffff:198.51.100.7]:%d", i)})
	}
	assert.Equal(t, http.StatusTooManyRequests, v4.do(t, req{method: "GET", path: "/admin/tenants", remote: "198.51.100.7:1"}).Code,
		"an IPv4 address written as IPv6 is that IPv4 address")
	assert.Equal(t, http.StatusOK, v4.do(t, req{method: "GET", path: "/admin/tenants", remote: "198.51.100.6:1"}).Code)
}
