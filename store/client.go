package store

import (
	"encoding/json"
	"time"
)

// Client is a registered OAuth client: the client metadata of RFC 7591
// section 2 plus the fields of the registration response (section 3.2.1).
// Fields this type does not know are kept in Extra and written back
// unchanged, so a client registered with extensions loses nothing.
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
// record.
type Session struct {
	UserID         string    `json:"userId"`
	TenantID       string    `json:"tenantId"`
	CreatedAt      time.Time `json:"createdAt"`
	LastAccessedAt time.Time `json:"lastAccessedAt"`
}
