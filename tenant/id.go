package tenant

// MaxIDLength is the longest tenant ID in bytes: the length of a DNS label
// (RFC 1035 section 2.3.4), so that every ID can be a subdomain.
const MaxIDLength = 63

// DefaultID is the tenant of every request in single-tenant mode, and the
// tenant that migrated single-tenant data belongs to.
const DefaultID = "default"

// ReservedID can never be a tenant ID: it names the admin API, which sits
// beside the tenants' routes (/admin/… in path mode, admin.<base> as a host).
const ReservedID = "admin"

// idByte marks the bytes a tenant ID may contain. A table rather than a
// regular expression: this runs on every request and must not allocate.
var idByte = [256]bool{
	'-': true,
	'0': true, '1': true, '2': true, '3': true, '4': true,
	'5': true, '6': true, '7': true, '8': true, '9': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
	'g': true, 'h': true, 'i': true, 'j': true, 'k': true, 'l': true,
	'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true,
	'y': true, 'z': true,
}

// ValidID reports whether id is a well-formed tenant ID that is not
// reserved. It does not allocate.
func ValidID(id string) bool {
	return ValidateID(id) == nil
}

// ValidateID returns nil when id is a well-formed tenant ID, and otherwise an
// error that wraps [ErrInvalidID] ([ErrReservedID] for [ReservedID]). The
// errors are preallocated, so the check never allocates.
func ValidateID(id string) error {
	n := len(id)
	if n == 0 {
		return errEmptyID
	}
	if n > MaxIDLength {
		return errLongID
	}
	if id[0] == '-' || id[n-1] == '-' {
		return errHyphenID
	}
	for i := 0; i < n; i++ {
		if !idByte[id[i]] {
			return errByteID
		}
	}
	if id == ReservedID {
		return ErrReservedID
	}
	return nil
}
