package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DefaultScopes are the scopes a tenant's OAuth proxy asks its provider
// for when [OIDC.Scopes] is empty.
const DefaultScopes Scopes = "openid"

// MaxScopes bounds the number of scopes in [OIDC.Scopes].
const MaxScopes = 32

// maxSecretLength bounds oidc.clientSecret, which holds a sealed value
// (the secret, encrypted and encoded: about 4/3 of its length plus 60
// bytes).
const maxSecretLength = 4096

// Scopes is a list of OAuth scopes. It is kept in the space-separated form
// of RFC 6749 section 3.3 ("openid profile") so that a [Tenant] stays a
// plain value without references; its JSON is an array of strings
// (["openid","profile"]). Each scope is a scope-token of RFC 6749: printable
// ASCII without space, '"' or '\'.
type Scopes string

// List returns the scopes one by one, or nil when there are none.
func (s Scopes) List() []string {
	if s == "" {
		return nil
	}
	return strings.Split(string(s), " ")
}

// Or returns s, or def when s is empty.
func (s Scopes) Or(def Scopes) Scopes {
	if s == "" {
		return def
	}
	return s
}

// MarshalJSON writes the scopes as a JSON array of strings.
func (s Scopes) MarshalJSON() ([]byte, error) {
	list := s.List()
	if list == nil {
		list = []string{}
	}
	return json.Marshal(list)
}

var errScopesJSON = errors.New("tenant: oidc.scopes must be an array of strings")

// UnmarshalJSON reads a JSON array of scopes (null is none). A scope that
// is not a scope-token is refused rather than split or trimmed: an element
// "openid profile" is an error, never two scopes.
func (s *Scopes) UnmarshalJSON(data []byte) error {
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return errScopesJSON
	}
	if err := checkScopes(list); err != nil {
		return err
	}
	*s = Scopes(strings.Join(list, " "))
	return nil
}

// checkScopes applies the rules of [Scopes] to a list.
func checkScopes(list []string) error {
	if len(list) > MaxScopes {
		return invalid("oidc.scopes", fmt.Sprintf("must hold at most %d scopes", MaxScopes))
	}
	seen := make(map[string]bool, len(list))
	for _, sc := range list {
		if !ValidScope(sc) {
			return invalid("oidc.scopes", fmt.Sprintf("element %q is not an OAuth scope (printable ASCII without space, '\"' or '\\\\')", sc))
		}
		if seen[sc] {
			return invalid("oidc.scopes", fmt.Sprintf("lists %q twice", sc))
		}
		seen[sc] = true
	}
	return nil
}

// ValidScope reports whether s is one scope-token of RFC 6749 section
// 3.3: 1 to 256 bytes of %x21, %x23-5B and %x5D-7E.
func ValidScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ClientSecretContext is the context a tenant's oidc.clientSecret is sealed
// with, which binds the sealed value to the tenant: moved into another
// tenant's record, it does not open.
func ClientSecretContext(id string) string { return id + "/oidc.clientSecret" }

// validateClient checks the settings of the tenant's upstream client.
func (o OIDC) validateClient() error {
	if o.Scopes != "" {
		if err := checkScopes(o.Scopes.List()); err != nil {
			return err
		}
	}
	if o.ClientID == "" {
		if o.ClientSecret != "" {
			return invalid("oidc.clientSecret", "needs oidc.clientId")
		}
		return nil
	}
	if len(o.ClientID) > maxURLLength || !visible(o.ClientID) {
		return invalid("oidc.clientId", "must be printable ASCII")
	}
	if len(o.ClientSecret) > maxSecretLength || !visible(o.ClientSecret) {
		return invalid("oidc.clientSecret", fmt.Sprintf("must be printable ASCII of at most %d bytes once sealed", maxSecretLength))
	}
	if o.ClientSecret != "" && !strings.HasPrefix(o.ClientSecret, sealedPrefix) {
		// A secret in clear never reaches a store: whoever writes the
		// record seals it first.
		return invalid("oidc.clientSecret", "must be sealed (package keyring) before it is stored")
	}
	return nil
}

// sealedPrefix starts every value package keyring seals (keyring.Prefix;
// its tests check that the two agree).
const sealedPrefix = "sealed.v1."

// visible reports whether s is VSCHAR of RFC 6749 appendix A (%x20-7E),
// the characters of a client_id and client_secret.
func visible(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
