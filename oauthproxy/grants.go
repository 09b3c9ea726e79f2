package oauthproxy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/store"
)

// A grant record is stored under an ID derived from the secret the client
// holds (the state of a transaction, a code, a refresh token), and sealed
// with a key derived from the same secret. Redis then holds neither the
// secrets nor anything readable without them: its keys reveal no code or
// token, and a copy of the database opens no record. The tenant's ID and
// the kind take part in both derivations, so a code of one tenant names
// no record of another, whatever the store holds.

// errNoGrant means the record does not exist, has expired, was used, or
// does not open: all the same to a client.
var errNoGrant = errors.New("oauthproxy: no such grant")

// maxSecretLength bounds the secrets a client presents; codes, states and
// refresh tokens longer than this are refused before any work is done.
const maxSecretLength = 8 << 10

// errLongSecret is putGrant's refusal of a secret over maxSecretLength: a
// record of it could never be read, so a refresh token the provider made
// that long is withheld from the client rather than bound.
var errLongSecret = errors.New("oauthproxy: secret longer than the proxy reads back")

// grantAccess binds an access token to the client it was issued to, so
// that revocation forwards to the provider only a client's own tokens. It
// is a derivation kind of its own, so that an access token never names a
// refresh token's record nor the reverse, and its records are stored as
// store.GrantRefresh: to the store both are bindings of a token.
const grantAccess store.GrantKind = "access"

// grantFamily marks a family of refresh tokens (one login's token and
// every token its rotations produced) as revoked, under the family's ID.
// Like grantAccess it is a derivation kind, stored as store.GrantRefresh.
const grantFamily store.GrantKind = "family"

// storedKind returns the kind the store keeps records of kind under.
func storedKind(kind store.GrantKind) store.GrantKind {
	if kind == grantAccess || kind == grantFamily {
		return store.GrantRefresh
	}
	return kind
}

// derive returns the record ID and the sealing key of secret.
func derive(kind store.GrantKind, tenantID, secret string) (id string, key []byte) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("tenancy oauthproxy id\x00" + string(kind) + "\x00" + tenantID))
	id = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	mac.Reset()
	mac.Write([]byte("tenancy oauthproxy key\x00" + string(kind) + "\x00" + tenantID))
	return id, mac.Sum(nil)
}

func aeadOf(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// putGrant seals v under secret and stores it for ttl.
func (p *Proxy) putGrant(ctx context.Context, tenantID string, kind store.GrantKind, secret string, v any, ttl time.Duration) error {
	if len(secret) > maxSecretLength {
		return errLongSecret
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	id, key := derive(kind, tenantID, secret)
	aead, err := aeadOf(key)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(id))
	return p.cfg.Grants.Put(ctx, tenantID, storedKind(kind), id, sealed, ttl)
}

// takeGrant removes the record of secret and opens it into v; getGrant
// leaves it in place. Both answer errNoGrant for a record that is not
// there or does not open, and another error when the store failed.
func (p *Proxy) takeGrant(ctx context.Context, tenantID string, kind store.GrantKind, secret string, v any) error {
	return p.readGrant(ctx, tenantID, kind, secret, v, p.cfg.Grants.Take)
}

func (p *Proxy) getGrant(ctx context.Context, tenantID string, kind store.GrantKind, secret string, v any) error {
	return p.readGrant(ctx, tenantID, kind, secret, v, p.cfg.Grants.Get)
}

func (p *Proxy) readGrant(ctx context.Context, tenantID string, kind store.GrantKind, secret string, v any,
	read func(context.Context, string, store.GrantKind, string) ([]byte, error)) error {
	if secret == "" || len(secret) > maxSecretLength {
		return errNoGrant
	}
	id, key := derive(kind, tenantID, secret)
	sealed, err := read(ctx, tenantID, storedKind(kind), id)
	if errors.Is(err, store.ErrNotFound) {
		return errNoGrant
	}
	if err != nil {
		return err
	}
	aead, err := aeadOf(key)
	if err != nil {
		return err
	}
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return errNoGrant
	}
	plain, err := aead.Open(nil, sealed[:ns], sealed[ns:], []byte(id))
	if err != nil {
		return errNoGrant
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("oauthproxy: decode %s grant: %w", kind, err)
	}
	return nil
}

// deleteGrant removes the record of secret, if there is one.
func (p *Proxy) deleteGrant(ctx context.Context, tenantID string, kind store.GrantKind, secret string) error {
	if secret == "" || len(secret) > maxSecretLength {
		return nil
	}
	id, _ := derive(kind, tenantID, secret)
	return p.cfg.Grants.Delete(ctx, tenantID, storedKind(kind), id)
}

// transaction is an authorization the user approved, stored under the
// state sent to the provider until the provider answers.
type transaction struct {
	Request authRequest `json:"q"`
	// Verifier is the proxy's own PKCE verifier towards the provider.
	Verifier string `json:"v"`
	// Browser is the hash of the consent cookie of the browser that
	// approved: the callback must come from the same browser.
	Browser string `json:"b"`
}

// codeGrant is what an authorization code stands for: the provider's
// tokens, for the client, redirect URI and PKCE challenge of the request.
type codeGrant struct {
	ClientID      string `json:"c"`
	RedirectURI   string `json:"r"`
	RedirectGiven bool   `json:"rg,omitempty"`
	Challenge     string `json:"pc"`
	Resource      string `json:"res,omitempty"`
	// Refresh says whether the client registered the refresh_token grant.
	Refresh bool        `json:"rt,omitempty"`
	Token   tokenResult `json:"t"`
}

// tokenResult is the provider's token answer, as passed on to the client.
type tokenResult struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// Expiry is the access token's expiry in unix seconds, 0 if unknown.
	Expiry int64 `json:"exp,omitempty"`
}

// refreshBinding ties a refresh token (kind store.GrantRefresh) or an
// access token (kind grantAccess) to the client it was issued to.
type refreshBinding struct {
	ClientID string `json:"c"`
	// Family names the login a refresh token descends from: the token
	// the code was redeemed for and every token rotation produced from
	// it. "" for bindings written before families were kept.
	Family string `json:"f,omitempty"`
	// Used says the provider rotated the token: it was refreshed once
	// and is dead, and presenting it again is a reuse.
	Used bool `json:"u,omitempty"`
	// Spent lists, in a family's live token's binding, the record IDs of
	// the family's last used tokens (at most maxSpent, oldest first),
	// so that the records of older ones are deleted as the family
	// rotates on.
	Spent []string `json:"s,omitempty"`
}
