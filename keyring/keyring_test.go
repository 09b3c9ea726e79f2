package keyring_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/tenant"
)

func rawKey(b byte) []byte { return bytes.Repeat([]byte{b}, keyring.KeySize) }

func TestSealOpen(t *testing.T) {
	k, err := keyring.New(rawKey(1))
	require.NoError(t, err)
	sealed, err := k.Seal("s3cret", "acme/oidc.clientSecret")
	require.NoError(t, err)
	assert.True(t, keyring.IsSealed(sealed))
	assert.NotContains(t, sealed, "s3cret")
	assert.True(t, k.Current(sealed))

	got, err := k.Open(sealed, "acme/oidc.clientSecret")
	require.NoError(t, err)
	assert.Equal(t, "s3cret", got)

	again, err := k.Seal("s3cret", "acme/oidc.clientSecret")
	require.NoError(t, err)
	assert.NotEqual(t, sealed, again, "every seal has its own nonce")

	empty, err := k.Seal("", "ctx")
	require.NoError(t, err)
	got, err = k.Open(empty, "ctx")
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestOpenRefuses(t *testing.T) {
	k, err := keyring.New(rawKey(1))
	require.NoError(t, err)
	sealed, err := k.Seal("s3cret", "acme/oidc.clientSecret")
	require.NoError(t, err)
	other, err := keyring.New(rawKey(2))
	require.NoError(t, err)

	// Flip one bit of the ciphertext, keeping the encoding valid.
	body := sealed[strings.LastIndexByte(sealed, '.')+1:]
	data, err := base64.RawURLEncoding.DecodeString(body)
	require.NoError(t, err)
	data[len(data)-1] ^= 1
	tampered := sealed[:len(sealed)-len(body)] + base64.RawURLEncoding.EncodeToString(data)

	for _, tc := range []struct {
		name    string
		ring    *keyring.Keyring
		value   string
		context string
		want    error
	}{
		{"other context (another tenant)", k, sealed, "evil/oidc.clientSecret", keyring.ErrOpen},
		{"tampered", k, tampered, "acme/oidc.clientSecret", keyring.ErrOpen},
		{"key not configured", other, sealed, "acme/oidc.clientSecret", keyring.ErrUnknownKey},
		{"plain text", k, "s3cret", "acme/oidc.clientSecret", keyring.ErrMalformed},
		{"no key id", k, keyring.Prefix + "abc", "x", keyring.ErrMalformed},
		{"bad base64", k, strings.Replace(sealed, body, "!!!", 1), "x", keyring.ErrMalformed},
		{"too short", k, sealed[:len(sealed)-len(body)] + "AAAA", "x", keyring.ErrMalformed},
		{"nil keyring", nil, sealed, "acme/oidc.clientSecret", keyring.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(tc.value, tc.context)
			require.ErrorIs(t, err, tc.want)
			assert.Empty(t, got)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestRotation(t *testing.T) {
	oldRing, err := keyring.New(rawKey(1))
	require.NoError(t, err)
	sealedOld, err := oldRing.Seal("old", "c")
	require.NoError(t, err)

	rotated, err := keyring.New(rawKey(2), rawKey(1))
	require.NoError(t, err)
	assert.Equal(t, 2, rotated.Len())
	got, err := rotated.Open(sealedOld, "c")
	require.NoError(t, err, "every key opens")
	assert.Equal(t, "old", got)
	assert.False(t, rotated.Current(sealedOld), "sealed with a key that is not first any more")

	sealedNew, err := rotated.Seal("new", "c")
	require.NoError(t, err)
	assert.True(t, rotated.Current(sealedNew))
	_, err = oldRing.Open(sealedNew, "c")
	require.ErrorIs(t, err, keyring.ErrUnknownKey, "the first key seals")
}

func TestParse(t *testing.T) {
	k1, k2 := make([]byte, keyring.KeySize), make([]byte, keyring.KeySize)
	for i := range k1 {
		k1[i], k2[i] = byte(i), byte(100+i)
	}
	hex1 := hex.EncodeToString(k1)
	b64 := base64.StdEncoding.EncodeToString(k2)
	for _, tc := range []struct {
		name string
		env  string
		keys int
		want error
	}{
		{"hex", hex1, 1, nil},
		{"base64", b64, 1, nil},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(k2), 1, nil},
		{"two with blanks", " " + b64 + " , " + hex1 + " ", 2, nil},
		{"empty", "", 0, keyring.ErrNoKey},
		{"blank", "  ", 0, keyring.ErrNoKey},
		{"empty element", hex1 + ",", 0, keyring.ErrBadKey},
		{"short", base64.StdEncoding.EncodeToString(k1[:16]), 0, keyring.ErrBadKey},
		{"not a key", "correct horse battery staple", 0, keyring.ErrBadKey},
		{"twice", hex1 + "," + base64.StdEncoding.EncodeToString(k1), 0, keyring.ErrBadKey},
		{"zeros", strings.Repeat("0", 2*keyring.KeySize), 0, keyring.ErrBadKey},
		{"one byte repeated", base64.StdEncoding.EncodeToString(rawKey(7)), 0, keyring.ErrBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keyring.Parse(tc.env)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				assert.Nil(t, k)
				if first := strings.TrimSpace(strings.Split(tc.env, ",")[0]); first != "" {
					assert.NotContains(t, err.Error(), first, "errors never echo a key")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.keys, k.Len())
		})
	}

	// The first key listed seals.
	k, err := keyring.Parse(b64 + "," + hex1)
	require.NoError(t, err)
	sealed, err := k.Seal("x", "c")
	require.NoError(t, err)
	only2, err := keyring.New(k2)
	require.NoError(t, err)
	_, err = only2.Open(sealed, "c")
	require.NoError(t, err)
}

func TestNoKey(t *testing.T) {
	_, err := keyring.New()
	require.ErrorIs(t, err, keyring.ErrNoKey)
	_, err = keyring.New(rawKey(1)[:31])
	require.ErrorIs(t, err, keyring.ErrBadKey)
	var k *keyring.Keyring
	_, err = k.Seal("x", "c")
	require.ErrorIs(t, err, keyring.ErrNoKey)
	assert.False(t, k.Current("x"))
}

func BenchmarkOpen(b *testing.B) {
	k, err := keyring.New(rawKey(1))
	require.NoError(b, err)
	sealed, err := k.Seal("a-client-secret-of-forty-bytes-or-so-xxx", "acme/oidc.clientSecret")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(sealed, "acme/oidc.clientSecret"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTenantAcceptsSealed checks that the tenant model's rule for a stored
// client secret (it must be sealed) accepts what this package seals.
func TestTenantAcceptsSealed(t *testing.T) {
	k, err := keyring.New(rawKey(1))
	require.NoError(t, err)
	sealed, err := k.Seal(strings.Repeat("s", 1024), tenant.ClientSecretContext("acme"))
	require.NoError(t, err)
	tt := &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive, OIDC: tenant.OIDC{
		Issuer: "https://auth.acme.com", Audience: "mcp", ClientID: "proxy", ClientSecret: sealed,
	}}
	require.NoError(t, tt.Validate())
}

// TestOpenRefusesReencoded checks that a sealed value opens only in the
// one form Seal writes: the same bytes written with line breaks, or with
// other unused bits in the last character, are not the value that was
// sealed.
func TestOpenRefusesReencoded(t *testing.T) {
	k, err := keyring.New(rawKey(1))
	require.NoError(t, err)
	sealed, err := k.Seal("s3cret", "c")
	require.NoError(t, err)
	body := sealed[strings.LastIndexByte(sealed, '.')+1:]
	head := sealed[:len(sealed)-len(body)]
	require.Equal(t, 2, len(body)%4, "12+6+16 bytes leave 4 unused bits in the last character")

	// The last character with other unused bits: same bytes, other text.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, body[len(body)-1])
	other := head + body[:len(body)-1] + string(alphabet[last^1])

	for name, v := range map[string]string{
		"unused bits set":  other,
		"line break":       head + body[:8] + "\n" + body[8:],
		"CRLF":             head + body[:8] + "\r\n" + body[8:],
		"final line break": sealed + "\n",
		"padded":           sealed + "==",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := k.Open(v, "c")
			require.ErrorIs(t, err, keyring.ErrMalformed)
			assert.Empty(t, got)
		})
	}
}
