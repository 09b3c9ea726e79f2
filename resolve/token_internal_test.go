package resolve

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// The remembered payloads stay within their bounds however many distinct
// tokens arrive, and refused payloads are not remembered at all.
func TestPayloadsBounded(t *testing.T) {
	var p payloads
	enc := base64.RawURLEncoding.EncodeToString
	for i := range maxPayloads * 3 {
		payload := enc(fmt.Appendf(nil, `{"iss":"https://auth.example","aud":"a%d"}`, i))
		if _, _, err := p.claims(payload); err != nil {
			t.Fatal(err)
		}
		if len(p.m) > maxPayloads || p.bytes > maxPayloadBytes {
			t.Fatalf("after %d tokens: %d payloads, %d bytes", i+1, len(p.m), p.bytes)
		}
	}
	fill := strings.Repeat("x", 12<<10)
	most := 0
	for i := range (maxPayloadBytes / len(fill)) * 3 {
		payload := enc(fmt.Appendf(nil, `{"n":%d,"iss":"https://auth.example","aud":"a","x":%q}`, i, fill))
		if _, _, err := p.claims(payload); err != nil {
			t.Fatal(err)
		}
		if p.bytes > maxPayloadBytes {
			t.Fatalf("%d bytes remembered, bound %d", p.bytes, maxPayloadBytes)
		}
		most = max(most, p.bytes)
	}
	if most < maxPayloadBytes/2 {
		t.Fatalf("large payloads were not remembered: at most %d bytes", most)
	}

	var q payloads
	for _, bad := range []string{enc([]byte(`{"iss":"x"}`)), "!!", enc([]byte(`{"iss":"https://a.example","aud":"a","aud":"b"}`))} {
		if _, _, err := q.claims(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if len(q.m) != 0 {
		t.Fatalf("refused payloads remembered: %d", len(q.m))
	}
}
