package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// clientFields is the set of JSON member names that [Client] maps to
// fields; every other member of a client's JSON belongs in Extra. It is
// derived from the struct tags, so a field added to Client is never copied
// into Extra as well.
var clientFields = func() map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeFor[Client]()
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}()

// clientJSON has the fields of Client without its methods, so that the
// methods below can marshal the known fields without recursing.
type clientJSON Client

// MarshalJSON writes the known fields of c followed by the members of
// c.Extra in the order of their names. A member of Extra that has the name
// of a known field is left out: the field wins, so Extra can never forge,
// say, the client_id.
func (c Client) MarshalJSON() ([]byte, error) {
	known, err := json.Marshal(clientJSON(c))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(c.Extra))
	for name := range c.Extra {
		if !clientFields[name] {
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

// UnmarshalJSON reads the known fields of a client's JSON into c and keeps
// every other member, unchanged, in c.Extra (nil when there is none), as
// RFC 7591 section 2 asks of servers that store client metadata.
func (c *Client) UnmarshalJSON(data []byte) error {
	var known clientJSON
	if err := json.Unmarshal(data, &known); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	for name := range all {
		if clientFields[name] {
			delete(all, name)
		}
	}
	if len(all) == 0 {
		all = nil
	}
	*c = Client(known)
	c.Extra = all
	return nil
}
