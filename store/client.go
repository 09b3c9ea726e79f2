package store

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrClientMetadata is wrapped by the error of decoding or encoding a
// [Client] whose JSON has a member that differs from a known one only in
// case, such as "Redirect_Uris" beside "redirect_uris". A registration
// endpoint answers it with 400 invalid_client_metadata (RFC 7591 section
// 3.2.2); a store never writes such a client.
var ErrClientMetadata = errors.New("store: invalid client metadata")

// Client is a registered OAuth client: the client metadata of RFC 7591
// section 2 plus the fields of the registration response (section 3.2.1).
// Fields this type does not know are kept in Extra and written back
// unchanged, so a client registered with extensions loses nothing. Member
// names are exact: see [Client.UnmarshalJSON].
type Client struct {
	ClientID                string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64           `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt   int64           `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string        `json:"grant_types,omitempty"`
	ResponseTypes           []string        `json:"response_types,omitempty"`
	ClientName              string          `json:"client_name,omitempty"`
	ClientURI               string          `json:"client_uri,omitempty"`
	LogoURI                 string          `json:"logo_uri,omitempty"`
	Scope                   string          `json:"scope,omitempty"`
	Contacts                []string        `json:"contacts,omitempty"`
	TOSURI                  string          `json:"tos_uri,omitempty"`
	PolicyURI               string          `json:"policy_uri,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	SoftwareID              string          `json:"software_id,omitempty"`
	SoftwareVersion         string          `json:"software_version,omitempty"`

	// Extra holds every member of the JSON object not listed above.
	Extra map[string]json.RawMessage `json:"-"`
}

// Session is one user session of a tenant. Its JSON is the seed's session
// record, plus the issuer of the owner's token when the session was
// admitted with an [Owner].
type Session struct {
	// UserID is the owner's subject, empty for an anonymous caller.
	UserID string `json:"userId"`
	// Issuer is the issuer of the owner's token; empty for anonymous
	// callers and for sessions started with Create.
	Issuer         string    `json:"issuer,omitempty"`
	TenantID       string    `json:"tenantId"`
	CreatedAt      time.Time `json:"createdAt"`
	LastAccessedAt time.Time `json:"lastAccessedAt"`
}
