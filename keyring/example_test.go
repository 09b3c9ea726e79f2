package keyring_test

import (
	"fmt"

	"github.com/seedmcp/tenancy/keyring"
)

func Example() {
	// In production: keyring.Parse(os.Getenv("TENANT_ENCRYPTION_KEY")),
	// with keys made by `openssl rand -base64 32`.
	ring, err := keyring.Parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		panic(err)
	}
	sealed, _ := ring.Seal("upstream-client-secret", "acme/oidc.clientSecret")
	fmt.Println(keyring.IsSealed(sealed))

	secret, err := ring.Open(sealed, "acme/oidc.clientSecret")
	fmt.Println(secret, err)

	_, err = ring.Open(sealed, "other-tenant/oidc.clientSecret")
	fmt.Println(err)
	// Output:
	// true
	// upstream-client-secret <nil>
	// keyring: sealed value does not open
}
