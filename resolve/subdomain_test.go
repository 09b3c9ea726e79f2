package resolve

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubdomainBase(t *testing.T) {
	tests := []struct {
		base string
		ok   bool
	}{
		{"seed.example.com", true},
		{"localhost", true},
		{"Seed.Example.COM.", true}, // folded and trimmed like a host
		{"admin.example.com", true}, // "admin" is reserved as an ID, not as a label
		{"", false},
		{".", false},
		{"example..com", false},
		{".example.com", false},
		{"example.com..", false},
		{"-example.com", false},
		{"exa_mple.com", false},
		{"example.com:8080", false},
		{"*.example.com", false},
		{"127.0.0.1", false},
		{"10.0.0", false},
		{"0x10", false}, // a URL parser reads it as an IPv4 number
		{"a.0x10", false},
		{"a.0xbeef", false},
		{"a.0xbeefy", true},   // not hex: a name
		{"example.0x", false}, // "0x" alone is a number to the WHATWG parser
		{"[::1]", false},
		{"ex ample.com", false},
		{"ex\x00ample.com", false},
		{"bücher.example", false},
		{strings.Repeat("a", 64) + ".com", false},
		{strings.Repeat("abc.", 64) + "com", false}, // over 253 bytes
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			r, err := Subdomain(tt.base)
			if tt.ok {
				require.NoError(t, err)
				assert.NotNil(t, r)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "resolve: invalid base domain")
			}
		})
	}
}

func TestSubdomain(t *testing.T) {
	tests := []struct {
		name   string
		base   string
		host   string
		want   outcome
		wantID string
	}{
		{"plain", "seed.example.com", "acme.seed.example.com", found, "acme"},
		{"with port", "seed.example.com", "acme.seed.example.com:8443", found, "acme"},
		{"empty port", "seed.example.com", "acme.seed.example.com:", found, "acme"},
		{"trailing dot", "seed.example.com", "acme.seed.example.com.", found, "acme"},
		{"trailing dot and port", "seed.example.com", "acme.seed.example.com.:8443", found, "acme"},
		{"base with trailing dot", "seed.example.com.", "acme.seed.example.com", found, "acme"},
		{"upper-case host", "seed.example.com", "ACME.Seed.Example.COM", found, "acme"},
		{"upper-case base", "SEED.example.com", "acme.seed.example.com", found, "acme"},
		{"hyphen and digits", "seed.example.com", "acme-2.seed.example.com", found, "acme-2"},
		{"63-byte label", "seed.example.com", strings.Repeat("a", 63) + ".seed.example.com", found, strings.Repeat("a", 63)},
		{"localhost base", "localhost", "acme.localhost:8080", found, "acme"},
		{"default tenant", "localhost", "default.localhost", found, "default"},

		{"bare base", "seed.example.com", "seed.example.com", missing, ""},
		{"bare base with port", "seed.example.com", "seed.example.com:443", missing, ""},
		{"bare base trailing dot", "seed.example.com", "seed.example.com.", missing, ""},
		{"bare localhost", "localhost", "localhost:8080", missing, ""},
		{"outside base", "seed.example.com", "acme.example.org", missing, ""},
		{"custom domain", "seed.example.com", "mcp.acme.com", missing, ""},
		{"base as a suffix of a label", "seed.example.com", "acmeseed.example.com", missing, ""},
		{"parent of base", "seed.example.com", "example.com", missing, ""},
		{"IPv4", "localhost", "127.0.0.1", missing, ""},
		{"IPv4 with port", "localhost", "127.0.0.1:8080", missing, ""},
		{"IPv6", "localhost", "[::1]", missing, ""},
		{"IPv6 with port", "localhost", "[::1]:8080", missing, ""},
		{"bare IPv6", "localhost", "::1", missing, ""},
		{"empty host", "localhost", "", missing, ""},
		{"lone dot", "localhost", ".", missing, ""},
		{"star", "localhost", "*", missing, ""},

		{"nested labels", "seed.example.com", "a.acme.seed.example.com", invalid, ""},
		{"nested labels with port", "seed.example.com", "www.acme.seed.example.com:443", invalid, ""},
		{"empty label", "seed.example.com", ".seed.example.com", invalid, ""},
		{"reserved admin", "seed.example.com", "admin.seed.example.com", invalid, ""},
		{"reserved admin upper case", "seed.example.com", "ADMIN.seed.example.com", invalid, ""},
		{"leading hyphen", "seed.example.com", "-acme.seed.example.com", invalid, ""},
		{"trailing hyphen", "seed.example.com", "acme-.seed.example.com", invalid, ""},
		{"64-byte label", "seed.example.com", strings.Repeat("a", 64) + ".seed.example.com", invalid, ""},
		{"underscore", "seed.example.com", "ac_me.seed.example.com", invalid, ""},
		{"braces", "seed.example.com", "{x}.seed.example.com", invalid, ""},
		{"star label", "seed.example.com", "*.seed.example.com", invalid, ""},
		{"NUL byte", "seed.example.com", "ac\x00me.seed.example.com", invalid, ""},
		{"non-ASCII", "seed.example.com", "bücher.seed.example.com", invalid, ""},
		{"Kelvin sign is not folded to k", "seed.example.com", "\u212Acme.seed.example.com", invalid, ""},
		{"punycode is just a label", "seed.example.com", "xn--bcher-kva.seed.example.com", found, "xn--bcher-kva"},
		{"malformed port", "seed.example.com", "acme.seed.example.com:http", invalid, ""},
		{"port with space", "seed.example.com", "acme.seed.example.com: 80", invalid, ""},
		{"huge host", "seed.example.com", strings.Repeat("a", 1<<16) + ".seed.example.com", invalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Subdomain(tt.base)
			require.NoError(t, err)
			assertResolves(t, r, hostRequest(tt.host), tt.want, tt.wantID)
		})
	}
}

func TestSubdomainAllocations(t *testing.T) {
	r, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	for _, host := range []string{
		"acme.seed.example.com",
		"acme.seed.example.com:8443",
		"acme.seed.example.com.",
		"seed.example.com",
		"127.0.0.1:8080",
	} {
		req := hostRequest(host)
		allocs := testing.AllocsPerRun(100, func() { _, _ = r.Resolve(req) })
		assert.Zero(t, allocs, "host %q", host)
	}
	// A refusal costs one allocation: the InvalidError naming the label.
	for _, host := range []string{"a.acme.seed.example.com", "{x}.seed.example.com"} {
		req := hostRequest(host)
		allocs := testing.AllocsPerRun(100, func() { _, _ = r.Resolve(req) })
		assert.Equal(t, 1.0, allocs, "host %q", host)
	}
}

func BenchmarkSubdomain(b *testing.B) {
	r, err := Subdomain("seed.example.com")
	require.NoError(b, err)
	for _, host := range []string{"acme.seed.example.com:8443", "ACME.seed.example.com", "evil.example.org"} {
		b.Run(host, func(b *testing.B) {
			req := hostRequest(host)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = r.Resolve(req)
			}
		})
	}
}

func FuzzSubdomain(f *testing.F) {
	for _, host := range []string{
		"acme.seed.example.com", "acme.seed.example.com:8443", "ACME.seed.example.com.",
		"seed.example.com", "a.b.seed.example.com", "[::1]:80", "127.0.0.1",
		"admin.seed.example.com", "\u212Acme.seed.example.com", "", ":", ".", "..seed.example.com",
	} {
		f.Add(host, "seed.example.com")
	}
	f.Add("acme.localhost:8080", "localhost")
	f.Fuzz(func(t *testing.T, host, base string) {
		r, err := Subdomain(base)
		if err != nil {
			return
		}
		id, err := r.Resolve(hostRequest(host))
		if classify(t, id, err) == failed {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err == nil && !strings.Contains(strings.ToLower(host), id+".") {
			t.Fatalf("ID %q is not a label of host %q", id, host)
		}
	})
}
