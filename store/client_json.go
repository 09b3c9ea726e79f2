package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// clientFields maps each JSON member name that [Client] maps to a field to
// the index of that field; every other member of a client's JSON belongs in
// Extra. It is derived from the struct tags, so a field added to Client is
// never copied into Extra as well.
var clientFields = func() map[string]int {
	fields := map[string]int{}
	t := reflect.TypeFor[Client]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}()

// foldedField returns the known member name that name equals without
// regard to case, when name is not itself a known member. encoding/json
// matches struct fields with exactly this folding (bytes.EqualFold, which
// also folds the long s and the Kelvin sign), so such a member is one that
// a case-insensitive reader of the stored JSON could take for the known
// field.
func foldedField(name string) (string, bool) {
	if _, ok := clientFields[name]; ok {
		return "", false
	}
	for known := range clientFields {
		if strings.EqualFold(name, known) {
			return known, true
		}
	}
	return "", false
}

// clientJSON has the fields of Client without its methods, so that the
// methods below can marshal the known fields without recursing.
type clientJSON Client

// MarshalJSON writes the known fields of c followed by the members of
// c.Extra in the order of their names. A member of Extra that has the name
// of a known field is left out: the field wins, so Extra can never forge,
// say, the client_id. A member of Extra whose name differs from a known
// field's only in case ("Redirect_Uris") is an error wrapping
// [ErrClientMetadata]: written out, it would be read back by any
// case-insensitive decoder as the field itself, so such a client is never
// stored.
func (c Client) MarshalJSON() ([]byte, error) {
	known, err := json.Marshal(clientJSON(c))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(c.Extra))
	for name := range c.Extra {
		if _, ok := clientFields[name]; !ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return known, nil
	}
	slices.Sort(names)
	var buf bytes.Buffer
	buf.Grow(len(known) + 64*len(names))
	buf.Write(known[:len(known)-1]) // without the closing brace
	for _, name := range names {
		if field, folded := foldedField(name); folded {
			return nil, caseError(name, field)
		}
		// The known part always holds client_id, so a comma is always due.
		buf.WriteByte(',')
		n, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		buf.Write(n)
		buf.WriteByte(':')
		v := c.Extra[name]
		if len(v) == 0 {
			v = json.RawMessage("null")
		} else if !json.Valid(v) {
			return nil, fmt.Errorf("store: member %q of Client.Extra is not valid JSON", name)
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads a client's JSON into c: each known field from the
// member of exactly its name, and every other member, unchanged, into
// c.Extra (nil when there is none), as RFC 7591 section 2 asks of servers
// that store client metadata.
//
// Member names are exact. encoding/json alone would match them without
// regard to case and let whichever of "redirect_uris" and "Redirect_Uris"
// comes last set the field, so that a registration checked with one value
// could be read back with another. A member whose name differs from a
// known field's only in case is therefore refused with an error wrapping
// [ErrClientMetadata], in a registration request and in a stored record
// alike: such a record is never decoded into a client.
func (c *Client) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return err
	}
	// Sorted, so that the member an error names does not depend on map
	// order.
	names := slices.Sorted(maps.Keys(members))
	var known clientJSON
	fields := reflect.ValueOf(&known).Elem()
	for _, name := range names {
		i, ok := clientFields[name]
		if !ok {
			if field, folded := foldedField(name); folded {
				return caseError(name, field)
			}
			continue
		}
		if err := json.Unmarshal(members[name], fields.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("store: client member %q: %w", name, err)
		}
		delete(members, name)
	}
	if len(members) == 0 {
		members = nil
	}
	*c = Client(known)
	c.Extra = members
	return nil
}

func caseError(name, field string) error {
	return fmt.Errorf("%w: member %q differs from %q only in case", ErrClientMetadata, name, field)
}
