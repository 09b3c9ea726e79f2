package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/internal/jwtx"
)

// MaxSettingsBytes bounds [Tenant.Settings]: the compact JSON of the
// object, in bytes. A tenant is held in the cache of every replica (10,000
// tenants by default), so the bound keeps that cache under 100 MB however
// the settings are used; CORS origins, tool allow-lists and feature flags
// need a small part of it.
const MaxSettingsBytes = 8 << 10

// Settings is the host application's own configuration of a tenant, such
// as its CORS origins, its tool allow-list or its feature flags: any JSON
// object of at most [MaxSettingsBytes] bytes (compact). The library stores
// it, returns it and merges patches into it through the admin API, and
// never interprets it.
//
// It holds the object's compact JSON text, so that a [Tenant] stays a
// plain comparable value; the empty string is no settings, and an empty
// object is stored as none. Read it with [Setting] or [Settings.Decode];
// build one in Go with [NewSettings].
type Settings string

var (
	errSettingsObject = invalid("settings", "must be a JSON object")
	errSettingsSize   = invalid("settings", fmt.Sprintf("must be at most %d bytes of compact JSON", MaxSettingsBytes))
)

// NewSettings returns the settings whose JSON is v's: v must encode to a
// JSON object (a struct, a map with string keys, a json.RawMessage of an
// object) within [MaxSettingsBytes]; nil is no settings.
func NewSettings(v any) (Settings, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: settings: %w", ErrInvalid, err)
	}
	var s Settings
	if err := s.UnmarshalJSON(data); err != nil {
		return "", err
	}
	return s, nil
}

// MarshalJSON writes the object, {} when there are no settings.
func (s Settings) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("{}"), nil
	}
	return []byte(s), nil
}

// UnmarshalJSON reads a JSON object (null is no settings) and keeps it
// compact. Anything else, invalid UTF-8 and an object over
// [MaxSettingsBytes] once compact are errors wrapping [ErrInvalid].
func (s *Settings) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*s = ""
		return nil
	}
	compact, err := compactObject(data)
	if err != nil {
		return err
	}
	*s = compact
	return nil
}

// compactObject checks that data is one JSON object within the bound and
// returns it compact ("" for an empty object).
func compactObject(data []byte) (Settings, error) {
	if len(data) == 0 || data[0] != '{' || !utf8.Valid(data) {
		return "", errSettingsObject
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return "", errSettingsObject
	}
	if buf.Len() > MaxSettingsBytes {
		return "", errSettingsSize
	}
	if buf.String() == "{}" {
		return "", nil
	}
	return Settings(buf.String()), nil
}

// validate checks settings before they are stored: compact, and no
// object in them has two members whose names are equal without case.
// encoding/json reads such members into one struct field (the last one
// wins) and into two map entries, so a check that reads one of them and a
// host that reads the other would disagree about the tenant's settings.
func (s Settings) validate() error {
	if s == "" {
		return nil
	}
	c, err := compactObject([]byte(s))
	if err != nil {
		return err
	}
	if c != s {
		return invalid("settings", "must be compact JSON (use NewSettings)")
	}
	if name, ok := repeatedMember([]byte(s)); ok {
		return invalid("settings", fmt.Sprintf("member %q repeats a member of its object (names are compared without case)", name))
	}
	return nil
}

// repeatedMember returns the first member name, at any depth of the
// valid JSON data, that equals another name of its object without case
// (folded as encoding/json and the token verifier fold them).
func repeatedMember(data []byte) (string, bool) {
	type object struct {
		seen map[string]struct{}
		name bool // the next string is a member name
	}
	var stack []*object // nil entries are arrays
	top := func() *object {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // the end: data is valid JSON
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &object{seen: map[string]struct{}{}, name: true})
				continue
			case '[':
				stack = append(stack, nil)
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if o := top(); o != nil && o.name {
				folded := jwtx.Fold(v)
				if _, dup := o.seen[folded]; dup {
					return v, true
				}
				o.seen[folded] = struct{}{}
				o.name = false
				continue
			}
		}
		// A value ended: in an object, a name comes next.
		if o := top(); o != nil {
			o.name = true
		}
	}
}

// Decode decodes the settings into v, as json.Unmarshal does (members v
// has no field for are ignored); no settings decode as an empty object.
func (s Settings) Decode(v any) error {
	if s == "" {
		s = "{}"
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("tenant: settings: %w", err)
	}
	return nil
}

// Setting returns the member name of t's settings decoded into a T, and
// whether the member is there (a member set to null counts as there):
//
//	origins, ok, err := tenant.Setting[[]string](t, "corsOrigins")
//
// A member whose name differs from name only in case is the member too,
// as [Settings.Decode] (encoding/json) reads it into a field of that
// name. A member that does not decode into a T is an error. Each call decodes
// the settings anew: a host that reads them on every request keeps the
// decoded value per tenant instead, dropping it when the tenant changes
// (the root package's Service.OnEvent).
func Setting[T any](t *Tenant, name string) (v T, ok bool, err error) {
	if t == nil || t.Settings == "" {
		return v, false, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t.Settings), &members); err != nil {
		return v, false, fmt.Errorf("tenant: settings: %w", err)
	}
	raw, ok := members[name]
	if !ok {
		// As encoding/json matches a struct field: a member named in
		// another case is the same member (stored settings have at most
		// one such), so that Setting and Decode agree.
		for n, r := range members {
			if jwtx.Fold(n) == jwtx.Fold(name) {
				raw, ok = r, true
				break
			}
		}
	}
	if !ok {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, true, fmt.Errorf("tenant: settings member %q: %w", name, err)
	}
	return v, true, nil
}
