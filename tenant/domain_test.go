package tenant

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidDomainRefusesAddresses is the regression test of "domain":
// "127.0.0.1" accepted by the admin API: a custom domain must be a host
// name, never an address in disguise.
func TestValidDomainRefusesAddresses(t *testing.T) {
	for _, d := range []string{
		"127.0.0.1", "10.0.0.1", "169.254.169.254", "1.2.3.4", "127.1", "0.0",
		"0x7f.0x1", "10.0x1", "127.0.0.0x1", "a.0x", "example.123", "acme.0",
		"::1", "[::1]", "::ffff:127.0.0.1", "127.0.0.1:80", "0177.0.0.1",
	} {
		assert.False(t, ValidDomain(d), d)
		tn := Tenant{ID: "acme", Name: "ACME", Domain: d, Status: StatusActive}
		assert.ErrorIs(t, tn.Validate(), ErrInvalid, d)
	}
	for _, d := range []string{
		"1.2.3.4.example.com", "127.0.0.1.nip.io", "0x7f.example.com", "acme.0xg", "acme.x0",
		"acme.co1", "1e100.net", "acme.c0", "123.example.com",
	} {
		assert.True(t, ValidDomain(d), d)
	}
}
