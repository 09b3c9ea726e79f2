package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The fuzz targets of this file send arbitrary bodies to the admin API with
// the right key and check what it answers and what it stores. They run as
// ordinary tests on their seed corpus; RELIABILITY.md has the commands that
// fuzz them.

// fuzzContentTypes are the media types a fuzz input picks from.
var fuzzContentTypes = []string{
	"application/json",
	"application/merge-patch+json",
	"application/json; charset=utf-8",
	"application/json; charset=latin1",
	"text/plain",
	"",
}

// fuzzBodies are realistic and hostile bodies shared by both targets.
var fuzzBodies = []string{
	acme,
	`{"id":"beta","name":"Beta"}`,
	`{"id":"beta","name":"Beta","status":"suspended","limits":{"rateLimit":0}}`,
	`{"name":"Renamed"}`,
	`{"status":"suspended"}`,
	`{"domain":null,"oidc":null}`,
	`{"domain":"taken.example.com"}`,
	`{"oidc":{"jwksUri":"https://auth.acme.com/jwks"}}`,
	`{"oidc":{"issuer":null}}`,
	`{"oidc":{"clientId":"proxy","clientSecret":"s3cret"}}`,
	`{"oidc":{"clientId":"proxy","clientSecret":null,"clientSecretSet":false}}`,
	`{"oidc":{"clientSecretSet":true}}`,
	`{"id":"beta","name":"Beta","oidc":{"issuer":"https://b.example","audience":"b","clientId":"p","clientSecret":"x"}}`,
	`{"id":"beta","name":"Beta","oidc":{"issuer":"https://b.example","audience":"b","clientId":"p","clientSecretSet":false}}`,
	`{"id":"other"}`,
	`{"createdAt":"2020-01-01T00:00:00Z"}`,
	`{"updatedAt":"2020-01-01T00:00:00Z"}`,
	`{"limits":{"maxClients":-1}}`,
	`{"limits":{"maxClients":1e400}}`,
	`{"limits":{"maxClients":9223372036854775808}}`,
	`{"limits":{"rateLimit":1.5}}`,
	`{"limits":null}`,
	`{"Name":"case"}`,
	`{"name":"a","name":"b"}`,
	`{"id":"dup","name":"D","status":"active","status":"suspended"}`,
	`{"name":"\u0000"}`,
	`{"name":"\ud800"}`,
	"{\"name\":\"\xff\"}",
	`{"id":"ACME","name":"x"}`,
	`{"id":"admin","name":"x"}`,
	`{"id":"-a","name":"x"}`,
	`{"id":"` + strings.Repeat("a", 64) + `","name":"x"}`,
	`{"id":"` + strings.Repeat("a", 63) + `","name":"x"}`,
	`{"id":"a{b}","name":"x"}`,
	`{"id":"а","name":"x"}`, // Cyrillic а
	`{"__proto__":{}}`,
	`{}`,
	`[]`,
	`null`,
	`"x"`,
	`1`,
	``,
	` `,
	`{`,
	`{"name":"x"}{}`,
	`{"name":"x"} `,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"name":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`,
	`{"id":"big","name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`,
}

// fuzzHandler returns an admin handler over a fresh memstore that logs
// nowhere and seals client secrets. The tenants it hands back hold
// fuzzSealed in place of each sealed secret (which is random), so that a
// stored tenant compares equal to the one decodeStored reads from an
// answer.
func fuzzHandler(t testing.TB) (*Handler, store.Tenants) {
	tenants := memstore.New(memstore.Config{}).Tenants()
	ring, err := keyring.New([]byte(keyA))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Tenants: tenants, APIKey: testKey, Keyring: ring, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h, sealedAlike{tenants}
}

// fuzzSealed stands for any sealed secret in the fuzz targets' tenants.
const fuzzSealed = keyring.Prefix + "any"

// sealedAlike reads tenants with every sealed secret replaced by
// fuzzSealed.
type sealedAlike struct{ store.Tenants }

func (s sealedAlike) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := s.Tenants.Get(ctx, id)
	if err == nil && t.OIDC.ClientSecret != "" {
		c := *t
		c.OIDC.ClientSecret = fuzzSealed
		t = &c
	}
	return t, err
}

func fuzzRequest(h http.Handler, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set(KeyHeader, testKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkErrorBody fails unless a refusal is JSON {"error":"…"} and nothing
// else.
func checkErrorBody(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", w.Code, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d with a body that is not JSON: %q", w.Code, w.Body.String())
	}
	msg, ok := body["error"].(string)
	if len(body) != 1 || !ok || msg == "" {
		t.Fatalf("status %d with body %q, want {\"error\":…}", w.Code, w.Body.String())
	}
}

// decodeStored decodes a tenant the API answered, the way a client would,
// and checks that it validates and that its JSON round-trips. An answer
// never carries oidc.clientSecret, and carries oidc.clientSecretSet
// exactly when the tenant has an upstream client; the tenant returned has
// fuzzSealed as its secret when clientSecretSet is true, so that it
// compares equal to the stored one.
func decodeStored(t *testing.T, body []byte) *tenant.Tenant {
	t.Helper()
	raw := json.NewDecoder(bytes.NewReader(body))
	raw.UseNumber()
	var doc any
	if err := raw.Decode(&doc); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, body)
	}
	secret, err := takeSecret(doc)
	if err != nil || secret.named {
		t.Fatalf("answer carries oidc.clientSecret, or a clientSecretSet that is not a boolean: %q", body)
	}
	stripped, _ := json.Marshal(doc)
	var got tenant.Tenant
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("answer does not decode into a tenant: %v: %q", err, body)
	}
	if (secret.flag != nil) != (got.OIDC.ClientID != "") {
		t.Fatalf("oidc.clientSecretSet must be answered exactly for a tenant with oidc.clientId: %q", body)
	}
	if secret.flag != nil && *secret.flag {
		got.OIDC.ClientSecret = fuzzSealed
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("answered tenant does not validate: %v: %q", err, body)
	}
	again, err := json.Marshal(&got)
	if err != nil {
		t.Fatal(err)
	}
	var back tenant.Tenant
	if err := json.Unmarshal(again, &back); err != nil || back != got {
		t.Fatalf("tenant JSON does not round-trip: %q -> %+v -> %+v (%v)", body, got, back, err)
	}
	return &got
}

func FuzzAdminCreate(f *testing.F) {
	for i, b := range fuzzBodies {
		f.Add([]byte(b), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		h, tenants := fuzzHandler(t)
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		w := fuzzRequest(h, http.MethodPost, "/admin/tenants", contentType, body)
		if !slices.Contains([]int{201, 400, 409, 413, 415}, w.Code) {
			t.Fatalf("status %d for %q (%s): %s", w.Code, body, contentType, w.Body.String())
		}
		if w.Code != http.StatusCreated {
			checkErrorBody(t, w)
			return
		}
		got := decodeStored(t, w.Body.Bytes())
		if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Fatalf("created tenant without the server's timestamps: %s", w.Body.String())
		}
		stored, err := tenants.Get(context.Background(), got.ID)
		if err != nil {
			t.Fatalf("201 but the tenant is not stored: %v", err)
		}
		if *stored != *got {
			t.Fatalf("answer %+v differs from the stored tenant %+v", got, stored)
		}
	})
}

func FuzzAdminPatch(f *testing.F) {
	for i, b := range fuzzBodies {
		f.Add([]byte(b), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		h, tenants := fuzzHandler(t)
		ctx := context.Background()
		// A tenant with every field set, and another whose domain a
		// patch may try to take.
		for _, b := range []string{acme, `{"id":"other","name":"Other","domain":"taken.example.com"}`} {
			if w := fuzzRequest(h, http.MethodPost, "/admin/tenants", "application/json", []byte(b)); w.Code != 201 {
				t.Fatalf("seed tenant: %d %s", w.Code, w.Body.String())
			}
		}
		before, err := tenants.Get(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		beforeJSON, _ := json.Marshal(before)

		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		w := fuzzRequest(h, http.MethodPatch, "/admin/tenants/acme", contentType, body)
		if !slices.Contains([]int{200, 400, 409, 413, 415}, w.Code) {
			t.Fatalf("status %d for %q (%s): %s", w.Code, body, contentType, w.Body.String())
		}
		after, err := tenants.Get(ctx, "acme")
		if err != nil {
			t.Fatalf("tenant lost after status %d: %v", w.Code, err)
		}
		other, err := tenants.LookupDomain(ctx, "taken.example.com")
		if err != nil || other != "other" {
			t.Fatalf("another tenant's domain changed hands: %q, %v", other, err)
		}
		if w.Code != http.StatusOK {
			checkErrorBody(t, w)
			afterJSON, _ := json.Marshal(after)
			if !bytes.Equal(beforeJSON, afterJSON) {
				t.Fatalf("refused patch %q changed the tenant:\n%s\n%s", body, beforeJSON, afterJSON)
			}
			if before.Domain != "" {
				if id, err := tenants.LookupDomain(ctx, before.Domain); err != nil || id != "acme" {
					t.Fatalf("refused patch lost the domain: %q, %v", id, err)
				}
			}
			return
		}
		got := decodeStored(t, w.Body.Bytes())
		if *got != *after {
			t.Fatalf("answer %+v differs from the stored tenant %+v", got, after)
		}
		if after.ID != before.ID || !after.CreatedAt.Equal(before.CreatedAt) {
			t.Fatalf("patch %q changed id or createdAt: %+v", body, after)
		}
		if err := after.Validate(); err != nil {
			t.Fatalf("stored tenant does not validate after patch %q: %v", body, err)
		}
		if after.Domain != "" {
			if id, err := tenants.LookupDomain(ctx, after.Domain); err != nil || id != "acme" {
				t.Fatalf("patched domain %q does not lead to the tenant: %q, %v", after.Domain, id, err)
			}
		}
		if before.Domain != after.Domain {
			if id, err := tenants.LookupDomain(ctx, before.Domain); err == nil {
				t.Fatalf("the old domain %q still leads to %q after patch %q", before.Domain, id, body)
			}
		}
	})
}
