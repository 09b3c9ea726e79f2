package oidctest_test

import (
	"context"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

func Example() {
	idp := oidctest.NewServer() // in a test: oidctest.New(t), closed at cleanup
	defer idp.Close()

	claims := idp.Claims("my-audience", "alice")
	claims["scope"] = "tools:read"
	token := idp.Token(claims)

	ctx := context.Background()
	p, _ := oidc.NewProvider(ctx, idp.Issuer())
	tok, err := p.Verifier(&oidc.Config{ClientID: "my-audience"}).Verify(ctx, token)
	fmt.Println(tok.Subject, err)
	fmt.Println(idp.DiscoveryRequests(), idp.JWKSRequests())

	idp.Rotate()
	fmt.Println(idp.KeyID())
	// Output:
	// alice <nil>
	// 1 1
	// rsa-2
}
