// Package jwtx reads a request's bearer token and the members of a JSON
// Web Token's header and payload by one rule, for the two places that
// read them: the bearer check (oidcx), which verifies the token, and the
// token resolver (resolve.Token), which picks the tenant whose token it
// is before that check. Both must read the same token, the same claims,
// in the same way: a reading that differs (a duplicate member, a member
// name in another case) would let a token pick one tenant and be verified
// as if it said something else.
package jwtx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// State says what [Bearer] found in a request's Authorization header.
type State int

const (
	// Present: exactly one bearer token, well formed.
	Present State = iota
	// Absent: no Authorization header, or credentials of another scheme.
	Absent
	// Malformed: two Authorization headers, the Bearer scheme without a
	// token, or a token that is not a b64token.
	Malformed
	// TooLarge: a token longer than the bound.
	TooLarge
)

// Bearer reads the token of the Authorization request header field (RFC
// 6750 section 2.1): the scheme "Bearer" in any case, one or more spaces,
// and exactly one b64token of at most maxSize bytes. Credentials of
// another scheme count as no token, as RFC 6750 section 3.1 asks. Tokens
// in the query string (section 2.3) are never read: they end up in logs
// and browser histories.
func Bearer(h http.Header, maxSize int) (string, State) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", Absent
	case 1:
	default:
		// Two credentials: which one is meant is anybody's guess.
		return "", Malformed
	}
	v := values[0]
	const scheme = "Bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", Absent
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", Malformed
	}
	if rest[0] != ' ' {
		// "Bearerx": another scheme whose name starts with Bearer.
		return "", Absent
	}
	token := strings.TrimLeft(rest, " ")
	if len(token) > maxSize {
		return "", TooLarge
	}
	if !validB64Token(token) {
		return "", Malformed
	}
	return token, Present
}

// b64tokenByte marks the bytes of a b64token other than its trailing "="
// padding: ALPHA, DIGIT, "-", ".", "_", "~", "+", "/".
var b64tokenByte = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// validB64Token reports whether s matches 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenByte[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// Errors of [Members].
var (
	ErrNotObject = errors.New("not a JSON object")
	ErrInvalid   = errors.New("not valid JSON")
	ErrTrailing  = errors.New("data after the object")
)

// DuplicateError is returned by [Members] for a member name that repeats
// an earlier one, also in another case.
type DuplicateError struct{ Name string }

func (e *DuplicateError) Error() string { return "repeated member " + e.Name }

// Members calls fn for each member of the JSON object data, in order,
// and stops at fn's first error, which it returns. A member name that
// repeats another, also in another case ("iss" and "ISS"), is a
// *[DuplicateError]: RFC 7519 section 4 lets a parser refuse duplicate
// claim names, and Go's own decoding, which matches names without regard
// to case, would otherwise let the last spelling win over the one a
// reader checked. A caller reads the members it knows by their exact
// names.
func Members(data []byte, fn func(name string, v json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ErrNotObject
	}
	seen := make(map[string]struct{}, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrInvalid
		}
		name := tok.(string) // inside an object, a token here is a name
		folded := Fold(name)
		if _, dup := seen[folded]; dup {
			return &DuplicateError{Name: name}
		}
		seen[folded] = struct{}{}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ErrInvalid
		}
		if err := fn(name, v); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return ErrInvalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}

// Fold returns name as JSON member names are compared without case: two
// names Go's decoding would read into one struct field fold to the same
// string (the Kelvin sign and the long s included). The tenant settings'
// check of repeated members uses the same rule.
func Fold(name string) string { return strings.ToLower(strings.ToUpper(name)) }
