package tenant

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestContext(t *testing.T) {
	ctx := context.Background()
	got, ok := FromContext(ctx)
	assert.False(t, ok)
	assert.Nil(t, got)
	id, ok := IDFromContext(ctx)
	assert.False(t, ok)
	assert.Empty(t, id)

	tn := &Tenant{ID: "acme", Name: "ACME", Status: StatusActive}
	ctx = NewContext(ctx, tn)
	got, ok = FromContext(ctx)
	assert.True(t, ok)
	assert.Same(t, tn, got, "the tenant is shared, not copied")
	id, ok = IDFromContext(ctx)
	assert.True(t, ok)
	assert.Equal(t, "acme", id)

	// An inner context's tenant wins; the outer one is untouched.
	inner := NewContext(ctx, &Tenant{ID: "beta"})
	id, _ = IDFromContext(inner)
	assert.Equal(t, "beta", id)
	id, _ = IDFromContext(ctx)
	assert.Equal(t, "acme", id)
}

func TestContextNilTenant(t *testing.T) {
	ctx := NewContext(context.Background(), nil)
	got, ok := FromContext(ctx)
	assert.False(t, ok)
	assert.Nil(t, got)
	_, ok = IDFromContext(ctx)
	assert.False(t, ok)
}

func TestContextKeyIsPrivate(t *testing.T) {
	// A value stored under a look-alike key from another package cannot
	// pose as the tenant.
	type contextKey struct{}
	ctx := context.WithValue(context.Background(), contextKey{}, &Tenant{ID: "evil"})
	//lint:ignore SA1029 a plain string key is the point of the test
	ctx = context.WithValue(ctx, "tenant", &Tenant{ID: "evil"})
	_, ok := FromContext(ctx)
	assert.False(t, ok)
}
