package jwtx

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidB64Token(t *testing.T) {
	for s, want := range map[string]bool{
		"abc":           true,
		"a.b-c_d~e+f/g": true,
		"abc==":         true,
		"=":             false,
		"":              false,
		"ab=c":          false,
		"a b":           false,
		"a\tb":          false,
		"é":             false,
	} {
		assert.Equal(t, want, validB64Token(s), "%q", s)
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		token  string
		state  State
	}{
		{"none", nil, "", Absent},
		{"one", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", Present},
		{"scheme in any case, several spaces", []string{"bEARER   abc"}, "abc", Present},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, "", Absent},
		{"a scheme named Bearer-something", []string{"Bearerx abc"}, "", Absent},
		{"scheme alone", []string{"Bearer"}, "", Malformed},
		{"scheme and spaces", []string{"Bearer   "}, "", Malformed},
		{"two tokens", []string{"Bearer abc def"}, "", Malformed},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", Malformed},
		{"at the bound", []string{"Bearer " + strings.Repeat("a", 16)}, strings.Repeat("a", 16), Present},
		{"over the bound", []string{"Bearer " + strings.Repeat("a", 17)}, "", TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			token, state := Bearer(h, 16)
			assert.Equal(t, tt.state, state)
			assert.Equal(t, tt.token, token)
		})
	}
}

func TestMembers(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		names []string
		err   error
		dup   string
	}{
		{"in order", `{"iss":"a","aud":["b"],"x":{"iss":"nested"}}`, []string{"iss", "aud", "x"}, nil, ""},
		{"empty", `{}`, nil, nil, ""},
		{"repeated", `{"iss":"a","iss":"b"}`, []string{"iss"}, nil, "iss"},
		{"repeated in another case", `{"iss":"a","ISS":"b"}`, []string{"iss"}, nil, "ISS"},
		{"Kelvin sign folds to k", `{"kid":"a","` + "\u212aid" + `":"b"}`, []string{"kid"}, nil, "\u212aid"},
		{"an array", `["iss"]`, nil, ErrNotObject, ""},
		{"not JSON", `iss`, nil, ErrNotObject, ""},
		{"cut short", `{"iss":`, nil, ErrInvalid, ""},
		{"data after", `{"iss":"a"} {}`, []string{"iss"}, ErrTrailing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			err := Members([]byte(tt.data), func(name string, _ json.RawMessage) error {
				names = append(names, name)
				return nil
			})
			assert.Equal(t, tt.names, names)
			var dup *DuplicateError
			switch {
			case tt.dup != "":
				require.ErrorAs(t, err, &dup)
				assert.Equal(t, tt.dup, dup.Name)
			case tt.err != nil:
				assert.ErrorIs(t, err, tt.err)
			default:
				assert.NoError(t, err)
			}
		})
	}
	stop := errors.New("stop")
	calls := 0
	err := Members([]byte(`{"a":1,"b":2}`), func(string, json.RawMessage) error { calls++; return stop })
	assert.Equal(t, stop, err, "fn's error comes back as it is")
	assert.Equal(t, 1, calls, "and stops the reading")
}
