package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// etag is the entity tag of a tenant's JSON as the API answers it: a hash
// of the answer's bytes, so it changes whenever anything a client can see
// changes (updatedAt included).
func etag(t *tenant.Tenant) string {
	body, err := marshal(show(t))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// preconditionFailed is the answer to an If-Match the tenant no longer
// matches.
func preconditionFailed() reply {
	return fail(http.StatusPreconditionFailed, "Precondition failed: the tenant has changed since it was read")
}

// ifMatch reads the If-Match headers (RFC 9110 section 13.1.1). It
// returns nil when there are none, a function that tells whether the
// current entity tag matches otherwise, or the answer to a malformed
// header. The comparison is strong: a weak tag (W/"…") never matches, as
// the RFC requires for If-Match.
func ifMatch(r *http.Request) (func(string) bool, *reply) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return nil, nil
	}
	star := false
	var tags []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			switch {
			case item == "*":
				star = true
			case validTag(item):
				tags = append(tags, item)
			case strings.HasPrefix(item, "W/") && validTag(item[2:]):
				// A weak tag: kept out, it can never match.
			default:
				rep := fail(http.StatusBadRequest, "Invalid If-Match header: a list of quoted entity tags, or *")
				return nil, &rep
			}
		}
	}
	return func(current string) bool { return star || slices.Contains(tags, current) }, nil
}

// validTag reports whether s is a quoted entity tag (RFC 9110 section
// 8.8.3: etagc is any visible character but '"', or obs-text).
func validTag(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// memberNames lists the members of a JSON object, and of each object
// member its members ("oidc.issuer"), in order: the names of the fields a
// body sets, for the audit trail. Values are never kept.
func memberNames(doc any) []string {
	obj, _ := doc.(map[string]any)
	var names []string
	for name, v := range obj {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			for inner := range sub {
				names = append(names, name+"."+inner)
			}
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// changedFields lists the fields whose values differ between two versions
// of a tenant, as memberNames names them; updatedAt, which every change
// sets, is left out.
func changedFields(before, after *tenant.Tenant) []string {
	a, errA := toDocument(before)
	b, errB := toDocument(after)
	if errA != nil || errB != nil {
		return nil
	}
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	var names []string
	for name := range union(am, bm) {
		if name == "updatedAt" {
			continue
		}
		av, bv := am[name], bm[name]
		as, aObj := av.(map[string]any)
		bs, bObj := bv.(map[string]any)
		if aObj || bObj {
			for inner := range union(as, bs) {
				if !reflect.DeepEqual(as[inner], bs[inner]) {
					names = append(names, name+"."+inner)
				}
			}
			continue
		}
		if !reflect.DeepEqual(av, bv) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// union returns the member names of a and b.
func union(a, b map[string]any) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
