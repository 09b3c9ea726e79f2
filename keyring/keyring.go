// Package keyring seals tenant secrets at rest with AES-256-GCM, under keys
// that can be rotated: the first key of a [Keyring] seals, every key opens.
//
// A host reads its keys from TENANT_ENCRYPTION_KEY, seals a secret before
// it reaches the store, and opens it only where it is used:
//
//	ring, err := keyring.Parse(os.Getenv("TENANT_ENCRYPTION_KEY"))
//	sealed, err := ring.Seal(secret, "acme/oidc.clientSecret")
//	secret, err := ring.Open(sealed, "acme/oidc.clientSecret")
//
// The context names what the secret belongs to: a sealed value opens only
// with the context it was sealed with, so a value copied from one tenant's
// record into another's is useless there.
//
// To rotate, put a new key first and keep the old ones after it until
// every secret has been sealed again: values sealed with any listed key
// still open, new values are sealed with the new key.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of every key in bytes (AES-256).
const KeySize = 32

// Prefix starts every sealed value; a value without it was never sealed.
const Prefix = "sealed.v1."

// Sentinel errors; match them with [errors.Is]. No error of this package
// contains key material or a secret.
var (
	// ErrNoKey means the keyring holds no key: nothing can be sealed or
	// opened. A host without TENANT_ENCRYPTION_KEY refuses secrets.
	ErrNoKey = errors.New("keyring: no encryption key configured")
	// ErrBadKey means a configured key is not 32 bytes in hex or base64.
	ErrBadKey = errors.New("keyring: invalid key")
	// ErrMalformed means a value is not one this package sealed.
	ErrMalformed = errors.New("keyring: malformed sealed value")
	// ErrUnknownKey means a value was sealed with a key that is no longer
	// in the keyring.
	ErrUnknownKey = errors.New("keyring: sealed with a key that is not configured")
	// ErrOpen means the value does not open: it was changed, or sealed
	// with another context.
	ErrOpen = errors.New("keyring: sealed value does not open")
)

// Keyring holds the keys. Create it with [New] or [Parse]; it is safe for
// concurrent use. A nil *Keyring has no key: Seal and Open return
// [ErrNoKey].
type Keyring struct {
	keys []key // keys[0] seals
}

type key struct {
	id   string // derived from the key, names it in sealed values
	aead cipher.AEAD
}

// New returns a keyring of keys, each [KeySize] bytes; the first seals.
// The keys are copied.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	k := &Keyring{}
	seen := map[string]bool{}
	for i, raw := range keys {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrBadKey, i+1, len(raw), KeySize)
		}
		block, err := aes.NewCipher(raw) // copies the key schedule
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrBadKey, i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrBadKey, i+1, err)
		}
		id := keyID(raw)
		if seen[id] {
			// The same key twice is a configuration mistake, and two
			// keys with one ID could not be told apart.
			return nil, fmt.Errorf("%w: key %d is listed twice", ErrBadKey, i+1)
		}
		seen[id] = true
		k.keys = append(k.keys, key{id: id, aead: aead})
	}
	return k, nil
}

// Parse reads a comma-separated list of keys, as TENANT_ENCRYPTION_KEY
// holds them: each is 32 bytes written as 64 hex digits or in base64
// (standard or URL alphabet, padded or not; `openssl rand -base64 32`).
// Blanks around the commas are ignored. An empty s is [ErrNoKey]; a key of
// one byte repeated (64 zeros, "AAAA…=") is [ErrBadKey], being a
// placeholder rather than a key.
func Parse(s string) (*Keyring, error) {
	var raws [][]byte
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			if strings.TrimSpace(s) == "" {
				return nil, ErrNoKey
			}
			return nil, fmt.Errorf("%w: key %d is empty", ErrBadKey, i+1)
		}
		raw, ok := decodeKey(f)
		if !ok {
			return nil, fmt.Errorf("%w: key %d is not %d bytes in hex or base64", ErrBadKey, i+1, KeySize)
		}
		if bytes.Count(raw, raw[:1]) == len(raw) {
			// 64 zeros, or AAAA…: a placeholder left in, not a key.
			return nil, fmt.Errorf("%w: key %d is one byte repeated, not random (openssl rand -base64 32 makes one)", ErrBadKey, i+1)
		}
		raws = append(raws, raw)
	}
	return New(raws...)
}

// decodeKey decodes one key; it never reports what it read.
func decodeKey(s string) ([]byte, bool) {
	if len(s) == 2*KeySize {
		if raw, err := hex.DecodeString(s); err == nil {
			return raw, true
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if raw, err := enc.DecodeString(s); err == nil && len(raw) == KeySize {
			return raw, true
		}
	}
	return nil, false
}

// keyID names a key in the values it seals, so that Open picks the right
// key at once. It is a short hash of the key under a fixed label; it
// tells nothing usable about the key.
func keyID(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("tenancy keyring key id\x00"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// Len returns the number of keys; 0 for a nil keyring.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Seal encrypts plaintext with the first key and returns the sealed value,
// "sealed.v1.<key id>.<base64url of nonce and ciphertext>", which is
// printable ASCII. context is authenticated with it: Open must be given
// the same context.
func (k *Keyring) Seal(plaintext, context string) (string, error) {
	if k.Len() == 0 {
		return "", ErrNoKey
	}
	cur := k.keys[0]
	nonce := make([]byte, cur.aead.NonceSize(), cur.aead.NonceSize()+len(plaintext)+cur.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keyring: nonce: %w", err)
	}
	out := cur.aead.Seal(nonce, nonce, []byte(plaintext), additional(cur.id, context))
	return Prefix + cur.id + "." + sealedEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed by Seal with any key of the keyring and the
// same context. The value must be exactly as Seal wrote it: the same bytes
// encoded otherwise (line breaks, padding, other unused bits in the last
// character) are [ErrMalformed].
func (k *Keyring) Open(sealed, context string) (string, error) {
	if k.Len() == 0 {
		return "", ErrNoKey
	}
	rest, ok := strings.CutPrefix(sealed, Prefix)
	if !ok {
		return "", ErrMalformed
	}
	id, body, ok := strings.Cut(rest, ".")
	if !ok {
		return "", ErrMalformed
	}
	data, err := sealedEncoding.DecodeString(body)
	if err != nil || len(body) != sealedEncoding.EncodedLen(len(data)) {
		// Only the text Seal writes opens: the decoder would skip line
		// breaks, and Strict refuses unused bits that are set.
		return "", ErrMalformed
	}
	for _, kk := range k.keys {
		if kk.id != id {
			continue
		}
		ns := kk.aead.NonceSize()
		if len(data) < ns+kk.aead.Overhead() {
			return "", ErrMalformed
		}
		plain, err := kk.aead.Open(nil, data[:ns], data[ns:], additional(id, context))
		if err != nil {
			return "", ErrOpen
		}
		return string(plain), nil
	}
	return "", ErrUnknownKey
}

// sealedEncoding writes the ciphertext of a sealed value, and reads it
// back in that one form only.
var sealedEncoding = base64.RawURLEncoding.Strict()

// Current reports whether sealed was sealed with the keyring's first key,
// so that a host rotating keys can tell which values to seal again.
func (k *Keyring) Current(sealed string) bool {
	if k.Len() == 0 {
		return false
	}
	id, _, ok := strings.Cut(strings.TrimPrefix(sealed, Prefix), ".")
	return ok && strings.HasPrefix(sealed, Prefix) && id == k.keys[0].id
}

// IsSealed reports whether s has the form of a sealed value. It does not
// check that s opens.
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// additional is the data authenticated with a value: the format, the key
// ID and the caller's context, each closed by a NUL so that no two
// different pairs give the same bytes.
func additional(id, context string) []byte {
	return []byte(Prefix + "\x00" + id + "\x00" + context)
}
