package oidcx

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/internal/jwtx"
)

// parsedToken is a JWT in the compact serialization (RFC 7519 section 1,
// RFC 7515 section 7.1) whose header and claims decoded strictly. Every
// token is parsed this way before any key is looked up, so that a token
// that could never verify is refused without a fetch, also while the
// tenant's provider is down.
type parsedToken struct {
	alg, kid string
	claims   tokenClaims
	payload  []byte // the decoded claims set, every member
}

// tokenClaims are the registered claims this package checks or returns
// (RFC 7519 section 4.1, RFC 8693 section 4.2), each of its one JSON type.
type tokenClaims struct {
	iss, sub      string
	aud           []string
	exp, nbf, iat time.Time // zero when absent
	scopes        []string
}

// maxNumericDate is the last second of the year 9999. A NumericDate beyond
// it, or below zero, is not a date any provider means, and would overflow
// the conversion to a time.
const maxNumericDate = 253402300799

// b64 decodes the parts of a token: base64url without padding (RFC 7515
// section 2), refusing the encodings whose unused low bits are not zero, so
// that each token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// compactByte marks the bytes of a compact JWS: the base64url alphabet and
// the dots between the parts. Base64 decoding in Go skips CR and LF, so
// they are refused here rather than silently dropped.
var compactByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_." {
		t[c] = true
	}
	return t
}()

// parseToken parses raw and checks that it is a compact JWS with a JSON
// header naming one of algs and a JSON claims set whose registered claims
// have their JSON types. It verifies nothing: the signature and the claims'
// values are checked later.
func parseToken(raw string, algs []string) (*parsedToken, error) {
	for i := 0; i < len(raw); i++ {
		if !compactByte[raw[i]] {
			return nil, malformed("not a compact JWS")
		}
	}
	h, rest, ok1 := strings.Cut(raw, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return nil, malformed("not three parts")
	}
	if h == "" || p == "" || sig == "" {
		return nil, malformed("empty part")
	}
	if _, err := b64.DecodeString(sig); err != nil {
		return nil, malformed("signature is not base64url")
	}
	header, err := b64.DecodeString(h)
	if err != nil {
		return nil, malformed("header is not base64url")
	}
	t := &parsedToken{}
	if err := t.decodeHeader(header, algs); err != nil {
		return nil, err
	}
	if t.payload, err = b64.DecodeString(p); err != nil {
		return nil, malformed("claims are not base64url")
	}
	if err := t.claims.decode(t.payload); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeHeader reads the JOSE header. The algorithm must be one of algs, so
// "none" and HMAC never get further. Members that would change how the
// token is verified (crit, b64: RFC 7797) or that carry keys and
// certificates of the token's own choosing (jwk, x5c) are refused: no JWT
// access token needs them, and go-jose would parse them.
func (t *parsedToken) decodeHeader(header []byte, algs []string) error {
	var alg bool
	err := members(header, "header", func(name string, v json.RawMessage) error {
		switch name {
		case "alg":
			alg = true
			return decodeString(v, &t.alg, "alg")
		case "kid":
			return decodeString(v, &t.kid, "kid")
		case "crit", "b64", "jwk", "x5c":
			return malformed("header member " + name + " is not accepted")
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case !alg:
		return malformed("header has no alg")
	case !slices.Contains(algs, t.alg):
		return fmt.Errorf("%w: algorithm %q not accepted", ErrInvalidToken, t.alg)
	}
	return nil
}

// decode reads the claims set, refusing a registered claim of the wrong
// JSON type: an exp that is a string, an aud that is a number.
func (c *tokenClaims) decode(payload []byte) error {
	return members(payload, "claims", func(name string, v json.RawMessage) error {
		switch name {
		case "iss":
			return decodeString(v, &c.iss, name)
		case "sub":
			return decodeString(v, &c.sub, name)
		case "aud":
			return decodeStrings(v, &c.aud, name)
		case "exp":
			return decodeDate(v, &c.exp, name)
		case "nbf":
			return decodeDate(v, &c.nbf, name)
		case "iat":
			return decodeDate(v, &c.iat, name)
		case "scope":
			var s string
			if err := decodeString(v, &s, name); err != nil {
				return err
			}
			c.scopes = append(strings.Fields(s), c.scopes...)
		case "scp":
			// A space-separated string or an array, as providers send it.
			var scp []string
			if err := decodeStrings(v, &scp, name); err != nil {
				return err
			}
			if len(scp) == 1 {
				scp = strings.Fields(scp[0])
			}
			c.scopes = append(c.scopes, scp...)
		}
		return nil
	})
}

// members calls fn for each member of the JSON object data, in order, by
// the rule the token resolver reads a token's claims with too
// (jwtx.Members: a member name that repeats another, also in another
// case, is refused), so that both read the same claims.
func members(data []byte, what string, fn func(name string, v json.RawMessage) error) error {
	err := jwtx.Members(data, fn)
	var dup *jwtx.DuplicateError
	switch {
	case errors.As(err, &dup):
		return malformed(what + " repeat member " + strconv.Quote(dup.Name))
	case errors.Is(err, jwtx.ErrNotObject):
		return malformed(what + " are not a JSON object")
	case errors.Is(err, jwtx.ErrInvalid):
		return malformed(what + " are not valid JSON")
	case errors.Is(err, jwtx.ErrTrailing):
		return malformed(what + " have data after the object")
	}
	return err
}

func decodeString(v json.RawMessage, dst *string, name string) error {
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, dst) != nil {
		return wrongType(name, "a string")
	}
	return nil
}

// decodeStrings reads a string or an array of strings.
func decodeStrings(v json.RawMessage, dst *[]string, name string) error {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			*dst = []string{s}
			return nil
		}
	}
	if len(v) > 0 && v[0] == '[' {
		var raws []json.RawMessage
		if json.Unmarshal(v, &raws) == nil {
			out := make([]string, len(raws))
			for i, r := range raws {
				if decodeString(r, &out[i], name) != nil {
					return wrongType(name, "a string or an array of strings")
				}
			}
			*dst = out
			return nil
		}
	}
	return wrongType(name, "a string or an array of strings")
}

// decodeDate reads a NumericDate (RFC 7519 section 2): a JSON number of
// seconds since the epoch, possibly with a fraction. A string holding a
// number is not one.
func decodeDate(v json.RawMessage, dst *time.Time, name string) error {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return wrongType(name, "a number")
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return wrongType(name, "a number of seconds between 1970 and 9999")
	}
	sec, frac := math.Modf(f)
	*dst = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

func malformed(why string) error {
	return fmt.Errorf("%w: %s", ErrMalformedToken, why)
}

func wrongType(name, want string) error {
	return fmt.Errorf("%w: claim %q must be %s", ErrMalformedToken, name, want)
}

// errNoKeyID is returned for a token without a key ID when the tenant
// publishes more than one key it could have been signed with.
var errNoKeyID = errors.New("token names no key ID and the key set has several keys for its algorithm")
