package oidcx

import (
	"errors"
	"io"
	"net/http"

	"github.com/seedmcp/tenancy/internal/httpx"
)

// maxErrorBody is how much of a failed answer's body is read: go-oidc puts
// the body of a failed discovery into its error, and the error reaches
// logs and memory; a few hundred bytes say what went wrong.
const maxErrorBody = 256

// limitBody caps every response body read through it at maxJWKSSize bytes.
// go-oidc reads discovery documents with io.ReadAll; a provider, or
// something impersonating one, must not be able to make this process
// buffer an unbounded answer. The body of an answer other than 200 ends,
// without error, after maxErrorBody bytes.
type limitBody struct{ base http.RoundTripper }

var _ http.RoundTripper = limitBody{}

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body = &cutBody{rc: resp.Body, left: maxErrorBody}
		return resp, nil
	}
	resp.Body = httpx.LimitBody(resp.Body, maxJWKSSize, errBodyTooLarge)
	return resp, nil
}

// cutBody ends a body after left bytes, as if that were all of it.
type cutBody struct {
	rc   io.ReadCloser
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	return n, err
}

func (b *cutBody) Close() error { return b.rc.Close() }

var errBodyTooLarge = errors.New("oidcx: provider response too large")
