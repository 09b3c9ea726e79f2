package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/seedmcp/tenancy/tenant"
)

// A tenant's oidc.clientSecret (the secret of its OAuth proxy's upstream
// client) is write-only. A body gives it in clear; the API seals it with
// the keyring, bound to the tenant (tenant.ClientSecretContext), before
// anything is stored, and answers only whether one is set:
//
//	"oidc":{…,"clientSecretSet":true}
//
// A merge patch that does not name clientSecret keeps the stored value;
// null (or "") removes it. clientSecretSet is read-only: a body may carry
// it (a tenant read and sent back), but only with the value the result
// has.
const (
	secretMember    = "clientSecret"
	secretSetMember = "clientSecretSet"
	secretField     = "oidc." + secretMember
)

// MaxClientSecretLength bounds oidc.clientSecret in clear, in bytes; sealed
// and encoded it stays within what a tenant record holds.
const MaxClientSecretLength = 2048

// secretInput is what a body asks of oidc.clientSecret.
type secretInput struct {
	// named is set when the body names clientSecret: clear replaces the
	// stored value, and an empty clear removes it.
	named bool
	clear string
	// flag is the body's clientSecretSet, nil when it has none.
	flag *bool
}

// takeSecret takes oidc.clientSecret and oidc.clientSecretSet out of doc,
// a parsed body, so that the secret in clear never reaches a tenant value
// that could be stored or validated by rules that want it sealed. Member
// names are exact, like every other member's: "ClientSecret" stays in doc
// and is refused as unknown. The error is the message of a 400; it never
// holds the value.
func takeSecret(doc any) (secretInput, error) {
	var in secretInput
	obj, _ := doc.(map[string]any)
	oidc, _ := obj["oidc"].(map[string]any)
	if oidc == nil {
		return in, nil
	}
	if v, ok := oidc[secretMember]; ok {
		delete(oidc, secretMember)
		in.named = true
		switch s := v.(type) {
		case nil:
		case string:
			if len(s) > MaxClientSecretLength || !visibleASCII(s) {
				return in, fmt.Errorf("invalid tenant: %s must be printable ASCII of at most %d bytes", secretField, MaxClientSecretLength)
			}
			in.clear = s
		default:
			return in, fmt.Errorf("invalid tenant: %s must be a string, or null to remove it", secretField)
		}
	}
	if v, ok := oidc[secretSetMember]; ok {
		delete(oidc, secretSetMember)
		b, ok := v.(bool)
		if !ok {
			return in, fmt.Errorf("invalid tenant: oidc.%s must be true or false", secretSetMember)
		}
		in.flag = &b
	}
	return in, nil
}

// visibleASCII reports whether s is VSCHAR of RFC 6749 appendix A, the
// characters of a client secret.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// errNoKeyring is the 400 for a secret sent to an API without keys.
var errNoKeyring = fmt.Errorf("%w: %s cannot be stored: no encryption key is configured (TENANT_ENCRYPTION_KEY)",
	tenant.ErrInvalid, secretField)

// errSecretElsewhere is the 400 for a change of where the stored secret
// goes that does not send the secret again.
var errSecretElsewhere = fmt.Errorf("%w: %s must be sent again (or null) in a change of oidc.issuer, oidc.tokenUrl "+
	"or oidc.revocationUrl: the stored secret is sent there", tenant.ErrInvalid, secretField)

// secretSentElsewhere reports whether a change from old to next sends the
// tenant's client secret to another place: the provider's token or
// revocation endpoint, or the issuer they are discovered from. Such a
// change must name the secret again, so that whoever may change a
// tenant's provider (a tenant's own key, too) cannot have a secret the
// operator set sent to an endpoint of their choosing.
func secretSentElsewhere(old, next tenant.OIDC) bool {
	return old.Issuer != next.Issuer || old.TokenURL != next.TokenURL || old.RevocationURL != next.RevocationURL
}

// applySecret sets next.OIDC.ClientSecret as in asks: sealed when the body
// gives a secret, removed when it names null or "", and otherwise kept,
// sealed again with the first key when an older key of the keyring sealed
// it (key rotation: every tenant written is moved to the current key). It
// returns the message of a 400, or an internal error.
func (h *Handler) applySecret(next *tenant.Tenant, in secretInput) (string, error) {
	ring := h.cfg.Keyring
	ctx := tenant.ClientSecretContext(next.ID)
	switch stored := next.OIDC.ClientSecret; {
	case in.named && in.clear == "":
		next.OIDC.ClientSecret = ""
	case in.named:
		if ring.Len() == 0 {
			return errNoKeyring.Error(), nil
		}
		sealed, err := ring.Seal(in.clear, ctx)
		if err != nil {
			return "", err
		}
		next.OIDC.ClientSecret = sealed
	case stored != "" && ring.Len() > 0 && !ring.Current(stored):
		clear, err := ring.Open(stored, ctx)
		if err != nil {
			// Sealed with a key no longer configured: it is kept, since
			// the operator can still set it anew, and said once per
			// write (never the value).
			h.log.Warn("admin api: the stored oidc.clientSecret does not open with the configured keys; set it again",
				"tenant", next.ID, "error", err)
			break
		}
		if next.OIDC.ClientSecret, err = ring.Seal(clear, ctx); err != nil {
			return "", err
		}
	}
	if in.flag != nil && *in.flag != (next.OIDC.ClientSecret != "") {
		return fmt.Sprintf("%v: oidc.%s is read-only: it says whether %s is stored; send %s (null removes it)",
			tenant.ErrInvalid, secretSetMember, secretField, secretField), nil
	}
	return "", nil
}

// secretFields corrects the fields a change lists for the audit trail:
// "oidc.clientSecret" is named when a body set or removed the secret, and
// not when the stored value was only sealed again with a newer key.
func secretFields(fields []string, in secretInput, before, after *tenant.Tenant) []string {
	had, has := before.OIDC.ClientSecret != "", after.OIDC.ClientSecret != ""
	named := slices.Contains(fields, secretField)
	switch {
	case in.named && has && !named:
		fields = append(fields, secretField)
		slices.Sort(fields)
	case !in.named && had && has && named:
		fields = slices.DeleteFunc(fields, func(f string) bool { return f == secretField })
	}
	return fields
}

// shown is a tenant as the API answers it: without oidc.clientSecret, and
// with oidc.clientSecretSet when the tenant has an upstream client
// (oidc.clientId), the only case where a secret can be stored. A tenant
// without one is answered exactly as before secrets existed.
type shown tenant.Tenant

// MarshalJSON writes the tenant's JSON, in its own member order, with
// "clientSecretSet" added as the last member of "oidc".
func (s shown) MarshalJSON() ([]byte, error) {
	t := tenant.Tenant(s)
	set := t.OIDC.ClientSecret != ""
	t.OIDC.ClientSecret = ""
	body, err := json.Marshal(&t)
	if err != nil || t.OIDC == (tenant.OIDC{}) || (t.OIDC.ClientID == "" && !set) {
		return body, err
	}
	oidc, err := json.Marshal(t.OIDC)
	if err != nil {
		return nil, err
	}
	// The tenant's encoding holds the member "oidc": followed by exactly
	// these bytes, and it is the first "oidc": in it, since a quote
	// inside a string is always escaped. oidc is never {} here.
	member := append([]byte(`"oidc":`), oidc...)
	i := bytes.Index(body, member)
	if i < 0 {
		return nil, errors.New("admin: the tenant's oidc member was not found in its JSON")
	}
	flag := `,"` + secretSetMember + `":false}`
	if set {
		flag = `,"` + secretSetMember + `":true}`
	}
	return slices.Concat(body[:i], member[:len(member)-1], []byte(flag), body[i+len(member):]), nil
}

var _ json.Marshaler = shown{}

// show returns the tenant as the API answers it.
func show(t *tenant.Tenant) *shown { return (*shown)(t) }

// showAll returns the tenants as the API answers them.
func showAll(ts []*tenant.Tenant) []*shown {
	out := make([]*shown, len(ts))
	for i, t := range ts {
		out[i] = show(t)
	}
	return out
}
