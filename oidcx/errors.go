package oidcx

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Sentinel errors. [Verifier.Verify] wraps them with %w; match them with
// [errors.Is].
var (
	// ErrInvalidToken means the token was refused: malformed, badly signed,
	// issued by another provider or for another audience, without a
	// subject (sub), or outside its lifetime. Every more specific token error below wraps it.
	ErrInvalidToken = errors.New("oidcx: invalid token")
	// ErrTokenTooLarge means the token is longer than Config.MaxTokenSize;
	// it was refused before any parsing.
	ErrTokenTooLarge = fmt.Errorf("%w: too large", ErrInvalidToken)
	// ErrMalformedToken means the token is not a JWT in the compact
	// serialization with a JSON header and claims set, or a registered
	// claim has the wrong JSON type (an exp that is a string). It is
	// refused before any key is fetched.
	ErrMalformedToken = fmt.Errorf("%w: malformed", ErrInvalidToken)
	// ErrTokenExpired means the token's exp lies in the past by more than
	// the allowed clock skew, or the token has no exp at all.
	ErrTokenExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrTokenNotYetValid means the token's nbf or iat lies in the future
	// by more than the allowed clock skew.
	ErrTokenNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalidToken)
	// ErrNotConfigured means the tenant has no OIDC issuer or audience, so
	// no token can be verified for it.
	ErrNotConfigured = errors.New("oidcx: tenant has no OIDC provider")
	// ErrProviderUnavailable means the tenant's provider could not be
	// reached to build its verifier (discovery or first JWKS fetch). The
	// error is an [*UnavailableError], which says when the next attempt
	// will be made.
	ErrProviderUnavailable = errors.New("oidcx: identity provider unavailable")
)

// UnavailableError reports that a tenant's verifier could not be built.
// Until RetryAt, requests of the tenant are refused at once with the same
// error rather than sent to the provider again.
type UnavailableError struct {
	// TenantID names the tenant whose provider failed.
	TenantID string
	// RetryAt is when the next attempt to build the verifier will be made.
	RetryAt time.Time
	// Err is the cause: a discovery or JWKS failure, or a timeout. Its
	// message is cut to a few hundred bytes: what a provider answers is
	// not copied whole into memory or logs.
	Err error

	reported *atomic.Bool // shared by the callers of one failed build
}

// Error describes the failure, without the token.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("oidcx: identity provider of tenant %q unavailable until %s: %v",
		e.TenantID, e.RetryAt.UTC().Format(time.RFC3339), e.Err)
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrProviderUnavailable].
func (e *UnavailableError) Is(target error) bool { return target == ErrProviderUnavailable }

// firstReport reports whether this is the first time the failure behind e
// is reported, so that a failing provider is logged once per back-off
// period rather than on every request it fails.
func (e *UnavailableError) firstReport() bool {
	return e.reported != nil && e.reported.CompareAndSwap(false, true)
}

// maxErrorLen bounds the message of a provider failure kept in memory
// and logged.
const maxErrorLen = 512

// shortError is a provider failure cut short: its message, at most
// maxErrorLen bytes, and the one sentinel of this package or the context
// it wraps, if any, so that errors.Is still tells its kind.
type shortError struct {
	msg string
	is  error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.is }

// shorten returns err cut short; see [shortError].
func shorten(err error) error {
	s := &shortError{msg: cut(err.Error(), maxErrorLen)}
	for _, kind := range []error{ErrProviderURL, errAddressRefused, errBodyTooLarge, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, kind) {
			s.is = kind
			break
		}
	}
	return s
}
