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
	"sort"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/tenant"
)

// readBody checks the Content-Type against the accepted media types and
// reads at most MaxBodyBytes of the body.
func readBody(r *http.Request, accept ...string) ([]byte, *reply) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !contains(accept, mt) {
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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseObject decodes one JSON value, keeping numbers exact, and refuses
// trailing data.
func parseObject(body []byte) (any, error) {
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
	return v, nil
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
