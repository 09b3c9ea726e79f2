package tenant_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/seedmcp/tenancy/tenant"
)

func ExampleValidateID() {
	for _, id := range []string{"acme-corp", "ACME", "admin", "-acme", ""} {
		err := tenant.ValidateID(id)
		fmt.Printf("%q: %v (invalid: %v)\n", id, err, errors.Is(err, tenant.ErrInvalidID))
	}
	// Output:
	// "acme-corp": <nil> (invalid: false)
	// "ACME": tenant: invalid tenant identifier: only a-z, 0-9 and '-' are allowed (invalid: true)
	// "admin": tenant: invalid tenant identifier: "admin" is reserved (invalid: true)
	// "-acme": tenant: invalid tenant identifier: starts or ends with '-' (invalid: true)
	// "": tenant: invalid tenant identifier: empty (invalid: true)
}

func ExampleTenant_Validate() {
	t := &tenant.Tenant{
		ID:     "acme-corp",
		Name:   "ACME Corporation",
		OIDC:   tenant.OIDC{Issuer: "http://auth.acme.com", Audience: "seed-mcp-acme"},
		Status: tenant.StatusActive,
	}
	fmt.Println(t.Validate())
	t.OIDC.Issuer = "https://auth.acme.com"
	fmt.Println(t.Validate())
	// Output:
	// tenant: invalid tenant: oidc.issuer must be an absolute https URL (http only on loopback)
	// <nil>
}

func ExampleNewContext() {
	ctx := tenant.NewContext(context.Background(), &tenant.Tenant{ID: "acme-corp"})
	if t, ok := tenant.FromContext(ctx); ok {
		fmt.Println(t.ID)
	}
	_, ok := tenant.IDFromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// acme-corp
	// false
}
