package redisstore

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/store"
)

// TestDecodeEvent checks which published messages reach a subscriber:
// changes of valid tenants and well-formed marks, nothing else.
func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		payload string
		want    store.Event
		ok      bool
	}{
		{`{"type":"updated","id":"acme"}`, store.Event{Type: store.EventUpdated, TenantID: "acme"}, true},
		{`{"type":"sync","mark":"m-1"}`, store.Event{Type: store.EventSync, Mark: "m-1"}, true},
		{`{"type":"updated","id":"ACME"}`, store.Event{}, false},
		{`{"type":"updated","id":"acme","mark":"m-1"}`, store.Event{}, false},
		{`{"type":"sync"}`, store.Event{}, false},
		{`{"type":"sync","mark":"a b"}`, store.Event{}, false},
		{`{"type":"sync","mark":"m-1","id":"acme"}`, store.Event{}, false},
		{`{"type":"reset"}`, store.Event{}, false},
		{`not json`, store.Event{}, false},
	}
	for _, tt := range tests {
		e, ok := decodeEvent(tt.payload)
		assert.Equal(t, tt.ok, ok, tt.payload)
		if tt.ok {
			assert.Equal(t, tt.want, e, tt.payload)
		}
	}
}
