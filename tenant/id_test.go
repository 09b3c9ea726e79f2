package tenant

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id      string
		wantErr error // nil, errEmptyID, ..., ErrReservedID
	}{
		{"a", nil},
		{"0", nil},
		{"acme", nil},
		{"acme-corp", nil},
		{"a-b-c", nil},
		{"a--b", nil}, // consecutive hyphens are a valid DNS label
		{"xn--bcher-kva", nil},
		{"123", nil},
		{DefaultID, nil},
		{"administrator", nil},
		{"admin-1", nil},
		{strings.Repeat("a", MaxIDLength), nil},
		{"a" + strings.Repeat("-", MaxIDLength-2) + "z", nil},

		{"", errEmptyID},
		{strings.Repeat("a", MaxIDLength+1), errLongID},
		{strings.Repeat("a", 1<<20), errLongID},
		{"-", errHyphenID},
		{"-acme", errHyphenID},
		{"acme-", errHyphenID},
		{"ACME", errByteID},
		{"Acme", errByteID},
		{"ac me", errByteID},
		{" acme", errByteID},
		{"acme\n", errByteID},
		{"ac\x00me", errByteID},
		{"ac_me", errByteID},
		{"ac.me", errByteID},
		{".", errByteID},
		{"..", errByteID},
		{"ac:me", errByteID},
		{"{acme}", errByteID},
		{"acme*", errByteID},
		{"ac?me", errByteID},
		{"[acme]", errByteID},
		{"ac/me", errByteID},
		{"ac%2fme", errByteID},
		{"äcme", errByteID},
		{"\xff", errByteID},
		{ReservedID, ErrReservedID},
	}
	for _, tt := range tests {
		name := tt.id
		if len(name) > 70 {
			name = name[:10] + "…"
		}
		t.Run(name, func(t *testing.T) {
			err := ValidateID(tt.id)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.True(t, ValidID(tt.id))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorIs(t, err, ErrInvalidID)
			assert.False(t, ValidID(tt.id))
			assert.True(t, strings.HasPrefix(err.Error(), "tenant: "), err.Error())
		})
	}
}

func TestErrReservedIDWrapsInvalid(t *testing.T) {
	assert.ErrorIs(t, ErrReservedID, ErrInvalidID)
	assert.Contains(t, ErrReservedID.Error(), `"admin" is reserved`)
	assert.False(t, errors.Is(ErrInvalidID, ErrMissingID))
	assert.False(t, errors.Is(ErrMissingID, ErrInvalidID))
}

func TestValidateIDAllocations(t *testing.T) {
	for _, id := range []string{"acme-corp", "", "ACME", "-acme", ReservedID, strings.Repeat("a", 64)} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ValidateID(id) }), "%q", id)
	}
}

func BenchmarkValidateID(b *testing.B) {
	for _, id := range []string{"acme-corp", strings.Repeat("a", MaxIDLength), "ACME"} {
		name := id
		if len(name) > 10 {
			name = "63-bytes"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = ValidateID(id)
			}
		})
	}
}

// referenceID is the ID rule written as directly as possible, to check
// the byte table against.
var referenceID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func FuzzValidateID(f *testing.F) {
	for _, id := range []string{
		"acme", "a", "-", "a-", "-a", "ACME", "admin", "default", "", "a.b", "ä",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "{x}", "a\x00",
	} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		// The length guard only spares the regexp long inputs, which it
		// rejects anyway; lengths around the limit still reach it.
		want := len(id) <= 2*MaxIDLength && referenceID.MatchString(id) && id != ReservedID
		if (err == nil) != want {
			t.Fatalf("ValidateID(%q) = %v, reference accepts: %v", id, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Fatalf("ValidateID(%q) = %v, which does not wrap ErrInvalidID", id, err)
		}
		if ValidID(id) != want {
			t.Fatalf("ValidID(%q) disagrees with ValidateID", id)
		}
	})
}
