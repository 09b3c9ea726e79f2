package store

import "fmt"

// MaxKeyLength is the longest client ID, session ID or limiter key
// [ValidKey] accepts, in bytes.
const MaxKeyLength = 256

// keyByte marks the bytes [ValidKey] accepts: printable ASCII without space
// and without the characters that have a meaning in Redis hash tags ('{',
// '}') or in SCAN and KEYS patterns ('*', '?', '[', ']', '\'). With them
// out, a key can be put after a tenant's prefix without escaping and never
// changes the slot of the key or widens a pattern.
//
// ':' is allowed. Every caller-supplied part is the last component of its
// key, after a prefix that names its kind ("tenant:{id}:client:"), so a ':'
// inside it cannot make two different records share a key. And it is
// needed: MCP clients may use an https URL as their client ID (a client ID
// metadata document), and limiter keys are naturally composite, such as an
// IPv6 address ("ip:2001:db8::1").
var keyByte = func() (t [256]bool) {
	for b := '!'; b <= '~'; b++ {
		t[b] = true
	}
	for _, b := range `{}*?[]\` {
		t[b] = false
	}
	return t
}()

// Preallocated causes, so that refusing a flood of bad keys costs nothing.
var (
	errEmptyKey = fmt.Errorf("%w: empty", ErrInvalidKey)
	errLongKey  = fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLength)
	errByteKey  = fmt.Errorf("%w: only printable ASCII without space and {}*?[]\\ is allowed", ErrInvalidKey)
)

// ValidKey returns nil when s may be used as a client ID, session ID or
// limiter key, and otherwise an error wrapping [ErrInvalidKey]. These values
// come from requests, so every store checks them before they reach a Redis
// key. A valid key is 1 to [MaxKeyLength] bytes of printable ASCII other
// than space and { } * ? [ ] \. It does not allocate.
func ValidKey(s string) error {
	if len(s) == 0 {
		return errEmptyKey
	}
	if len(s) > MaxKeyLength {
		return errLongKey
	}
	for i := 0; i < len(s); i++ {
		if !keyByte[s[i]] {
			return errByteKey
		}
	}
	return nil
}
