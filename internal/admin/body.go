package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/tenant"
)

// readBody checks the Content-Type against the accepted media types and
// reads at most MaxBodyBytes of the body.
func readBody(r *http.Request, accept ...string) ([]byte, *reply) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(accept, mt) {
		rep := fail(http.StatusUnsupportedMediaType, "Content-Type must be "+strings.Join(accept, " or "))
		return nil, &rep
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		rep := fail(http.StatusUnsupportedMediaType, "JSON must be UTF-8")
		return nil, &rep
	}
	if r.ContentLength > MaxBodyBytes {
		rep := fail(http.StatusRequestEntityTooLarge, tooLarge)
		return nil, &rep
	}
	// The ResponseWriter argument of MaxBytesReader only serves to close
	// the connection after an oversized body; nil is allowed.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			rep := fail(http.StatusRequestEntityTooLarge, tooLarge)
			return nil, &rep
		}
		rep := fail(http.StatusBadRequest, "Could not read the request body")
		return nil, &rep
	}
	return body, nil
}

var tooLarge = fmt.Sprintf("Request body larger than %d bytes", MaxBodyBytes)

// parseObject decodes one JSON value, keeping numbers exact, and refuses
// trailing data and invalid UTF-8.
func parseObject(body []byte) (any, error) {
	// encoding/json replaces each invalid byte of a string with U+FFFD
	// and carries on, so a name sent in Latin-1 would be stored repaired
	// rather than refused; RFC 8259 section 8.1 requires UTF-8, and the
	// raw bytes are the only place the damage can still be seen.
	if !utf8.Valid(body) {
		return nil, errors.New("invalid JSON: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %s", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the object")
	}
	if name, dup := duplicateMember(body); dup {
		return nil, fmt.Errorf("invalid JSON: duplicate member %q", name)
	}
	if loneSurrogate(body) {
		return nil, errors.New("invalid JSON: unpaired UTF-16 surrogate escape")
	}
	return v, nil
}

// loneSurrogate reports whether body, which must be valid JSON, holds a
// \u escape of a UTF-16 surrogate that is not part of a pair. encoding/json
// turns one into U+FFFD, the same silent repair as for invalid UTF-8, and
// I-JSON (RFC 7493 section 2.1) forbids them. In valid JSON a backslash only
// occurs inside a string, so no string state needs tracking.
func loneSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++ // \" \\ \/ \b \f \n \r \t: skip the escaped byte
			continue
		}
		r := hex4(body[i+2 : i+6])
		switch {
		case 0xDC00 <= r && r <= 0xDFFF:
			return true // a low surrogate first
		case 0xD800 <= r && r <= 0xDBFF:
			next := body[i+6:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return true
			}
			if low := hex4(next[2:6]); low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// hex4 decodes the four hex digits of a \u escape that a JSON decoder
// has already accepted.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// duplicateMember reports the first member name that appears twice in one
// object of body, which must be valid JSON. Decoding into a map keeps the
// last of the two silently, while another parser in front of the API (a
// proxy, an audit filter) may read the first: RFC 8259 section 4 leaves
// the meaning open, and I-JSON (RFC 7493 section 2.3) forbids duplicates,
// so the API refuses them rather than pick one.
func duplicateMember(body []byte) (string, bool) {
	// One frame per open object or array; an object's frame holds the
	// names seen so far, an array's is nil. The depth is bounded by the
	// decoder's own limit, which the body has already passed.
	type frame struct {
		names   map[string]bool
		wantKey bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].names != nil && stack[n-1].wantKey && tok != json.Delim('}') {
			name, _ := tok.(string)
			if stack[n-1].names[name] {
				return name, true
			}
			stack[n-1].names[name] = true
			stack[n-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{names: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: its object, if any, expects a name next.
		if n := len(stack); n > 0 && stack[n-1].names != nil {
			stack[n-1].wantKey = true
		}
	}
}

// jsonMessage drops the "json: " prefix of encoding/json's errors.
func jsonMessage(err error) string {
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// decodeTenant turns a parsed JSON document into a tenant. encoding/json
// matches member names case-insensitively, so "Name" would silently set
// name (and, in a merge patch, sit beside "name" with one of them lost);
// every member is therefore checked against the exact names first, and
// unknown ones are refused.
func decodeTenant(doc any) (*tenant.Tenant, error) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("the tenant must be a JSON object")
	}
	if err := checkMembers("", obj, tenantFields); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	t := new(tenant.Tenant)
	if err := dec.Decode(t); err != nil {
		return nil, fmt.Errorf("invalid tenant: %s", jsonMessage(err))
	}
	return t, nil
}

// fields describes the JSON members of a struct: each name, and for a
// member that is itself an object, its own members.
type fields map[string]fields

// tenantFields is derived from the tenant.Tenant type, so that a field added
// to the model is accepted here without a second list to keep in step.
var tenantFields = fieldsOf(reflect.TypeFor[tenant.Tenant]())

var timeType = reflect.TypeFor[time.Time]()

func fieldsOf(t reflect.Type) fields {
	out := fields{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		var sub fields
		if f.Type.Kind() == reflect.Struct && f.Type != timeType {
			sub = fieldsOf(f.Type)
		}
		out[name] = sub
	}
	return out
}

func checkMembers(path string, obj map[string]any, known fields) error {
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names) // the first unknown member named is deterministic
	for _, name := range names {
		sub, ok := known[name]
		if !ok {
			return fmt.Errorf("unknown field %q", path+name)
		}
		if child, isObj := obj[name].(map[string]any); isObj && sub != nil {
			if err := checkMembers(path+name+".", child, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result. A member set to null in the patch is removed; an object merges
// member by member; anything else replaces the target's value.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for name, value := range p {
		if value == nil {
			delete(t, name)
			continue
		}
		t[name] = mergePatch(t[name], value)
	}
	return t
}

// toDocument turns a tenant into the generic JSON document a merge patch
// applies to.
func toDocument(t *tenant.Tenant) (any, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return parseObject(raw)
}

func marshal(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(v)
}
