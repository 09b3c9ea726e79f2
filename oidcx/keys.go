package oidcx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
)

// Bounds of a tenant's key set. A tenant's provider is untrusted input: a
// set of thousands of copies of one P-521 key once cost about eleven
// seconds of CPU per forged token, when every key was tried in turn.
const (
	// MaxKeys is the number of signing keys kept from a tenant's key set,
	// in the order the provider lists them; the rest are ignored. Real
	// providers publish two to a dozen.
	MaxKeys = 32
	// maxKeyEntries is the number of entries of a JWKS that are read at
	// all, usable or not.
	maxKeyEntries = 4 * MaxKeys
	// maxKeyIDLength bounds a key ID; a key with a longer one is ignored.
	maxKeyIDLength = 256
	// maxRSABits and maxRSAExponent bound an RSA key, and with it the cost
	// of one signature check: RFC 7518 section 3.3 asks for 2048 bits or
	// more, providers use 2048 to 4096 and the exponent 65537. An 8192-bit
	// modulus with an exponent of 2^31-1 would cost about 3.7 ms a check.
	maxRSABits     = 4096
	maxRSAExponent = 65537
)

// publicKey is one signing key of a tenant, with only what verification
// uses: its ID, its declared algorithm and the public key itself.
// Certificate chains, thumbprints and URLs are never kept.
type publicKey struct {
	kid string
	alg string           // "" when the key names none
	key crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// size estimates the heap the key holds, its strings and key material
// included, for the byte bound of the verifier cache. It errs on the high
// side: a test holds it against the heap measured.
func (k *publicKey) size() int64 {
	n := int64(unsafe.Sizeof(*k)) + int64(len(k.kid)+len(k.alg))
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		n += 2 * (64 + int64(cap(pub.N.Bits()))*8)
	case *ecdsa.PublicKey:
		coordinate := int64(pub.Curve.Params().BitSize+63) / 64 * 8
		n += 2 * (128 + 2*coordinate)
	case ed25519.PublicKey:
		n += 2 * (32 + int64(cap(pub)))
	}
	return n
}

// usable reports whether the key can verify a signature made with alg: the
// algorithm it declares (RFC 7517 section 4.4), or else one that fits its
// type and curve, so that a key published for RS256 never verifies PS256
// and a P-256 key never meets an ES512 token.
func (k *publicKey) usable(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	return fits(k.key, alg)
}

// fits reports whether alg is an algorithm of the key's type and curve.
func fits(key crypto.PublicKey, alg string) bool {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// find returns the one key to try for a token with key ID kid and
// algorithm alg, so that a token costs at most one signature check:
//
//   - with a key ID, the first key of that ID usable for alg; known reports
//     whether the set has the ID at all, usable or not;
//   - without one, the only key usable for alg. When several are, none is
//     tried and errNoKeyID is returned: trying each would let one token
//     cost as many checks as the provider publishes keys.
func (l *keyList) find(kid, alg string) (key *publicKey, known bool, err error) {
	if kid != "" {
		for i := range l.keys {
			if l.keys[i].kid != kid {
				continue
			}
			if l.keys[i].usable(alg) {
				return &l.keys[i], true, nil
			}
			known = true
		}
		return nil, known, nil
	}
	for i := range l.keys {
		if !l.keys[i].usable(alg) {
			continue
		}
		if key != nil {
			return nil, true, errNoKeyID
		}
		key = &l.keys[i]
	}
	return key, key != nil, nil
}

// decodeKeys returns the public signing keys of a JWKS, at most MaxKeys of
// them, read from at most the first maxKeyEntries entries. Keys of a type
// or algorithm this package does not verify with are skipped rather than
// failing the whole set (RFC 7517 section 5); so are keys for encryption,
// symmetric keys, which must never verify a token, and keys beyond the
// bounds above. A key that another key before it makes useless is dropped:
// one with the same ID whose algorithms that key already covers (only the
// first key of an ID is ever tried), or an exact copy.
func decodeKeys(body []byte) ([]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	keys := make([]publicKey, 0, min(len(set.Keys), MaxKeys))
	for _, raw := range set.Keys[:min(len(set.Keys), maxKeyEntries)] {
		k, ok := decodeKey(raw)
		if !ok || duplicate(keys, k) {
			continue
		}
		keys = append(keys, k)
		if len(keys) == MaxKeys {
			break
		}
	}
	return keys, nil
}

// decodeKey returns the public signing key of one JWK, if it is one this
// package verifies with.
func decodeKey(raw json.RawMessage) (publicKey, bool) {
	// Only the members verification uses reach go-jose: certificate chains
	// (x5c, which go-jose would parse, certificate by certificate),
	// thumbprints and private parts are never read.
	var m jwkMembers
	if err := json.Unmarshal(raw, &m); err != nil {
		return publicKey{}, false
	}
	trimmed, err := json.Marshal(m)
	if err != nil {
		return publicKey{}, false
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(trimmed); err != nil {
		return publicKey{}, false
	}
	if jwk.Use != "" && jwk.Use != "sig" || len(jwk.KeyID) > maxKeyIDLength {
		return publicKey{}, false
	}
	if jwk.Algorithm != "" && !supportedAlg(jwk.Algorithm) {
		return publicKey{}, false
	}
	k := publicKey{kid: jwk.KeyID, alg: jwk.Algorithm}
	switch pub := jwk.Public().Key.(type) { // Public drops private parts a careless provider published
	case *rsa.PublicKey:
		if pub.N.BitLen() > maxRSABits || pub.E > maxRSAExponent {
			return publicKey{}, false
		}
		k.key = pub
	case *ecdsa.PublicKey, ed25519.PublicKey:
		k.key = pub
	default:
		return publicKey{}, false
	}
	if k.alg != "" && !fits(k.key, k.alg) {
		return publicKey{}, false // an RSA key that claims ES256
	}
	return k, true
}

// jwkMembers are the members of a JWK that verification uses (RFC 7517
// section 4, RFC 7518 sections 6.2.1, 6.3.1; RFC 8037 section 2).
type jwkMembers struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// duplicate reports whether k adds nothing to keys: an earlier key has its
// ID and covers its algorithms (its own declared one, or none declared
// and the same type), or is the very same key under the same ID.
func duplicate(keys []publicKey, k publicKey) bool {
	for i := range keys {
		e := &keys[i]
		if e.kid != k.kid {
			continue
		}
		if samePublicKey(e.key, k.key) && (e.alg == "" || e.alg == k.alg) {
			return true
		}
		if k.kid != "" && sameType(e.key, k.key) && (e.alg == "" || e.alg == k.alg) {
			return true
		}
	}
	return false
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// sameType reports whether a and b are keys of one type and curve, and
// so usable for the same algorithms.
func sameType(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case *rsa.PublicKey:
		_, ok := b.(*rsa.PublicKey)
		return ok
	case *ecdsa.PublicKey:
		b, ok := b.(*ecdsa.PublicKey)
		return ok && a.Curve == b.Curve
	case ed25519.PublicKey:
		_, ok := b.(ed25519.PublicKey)
		return ok
	}
	return false
}
