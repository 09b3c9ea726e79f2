package oauthproxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretInLogs runs logins, refreshes, revocations and refusals of
// every kind with debug logging, collects every secret that went by (the
// upstream client secret, sealed and in clear, the provider's codes, the
// states, the proxy's codes, verifiers, cookies, CSRF tokens, access,
// refresh and ID tokens), and looks for each in the log.
func TestNoSecretInLogs(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			h, a, g := ready(t, m)
			secrets := []string{h.secrets["acme"]}
			tt, err := h.st.tenants.Get(t.Context(), "acme")
			require.NoError(t, err)
			secrets = append(secrets, tt.OIDC.ClientSecret)

			for _, c := range []*mcpClient{a, g} {
				b := h.browser(c.tenant)
				page := b.get(c.authorizeURL())
				form := parseConsent(t, page)
				secrets = append(secrets, form.csrf, c.verifier, c.state)
				for _, ck := range page.header.Values("Set-Cookie") {
					v, _, _ := strings.Cut(ck, ";")
					_, v, _ = strings.Cut(v, "=")
					secrets = append(secrets, v)
				}
				ans := b.post(form.action, form.values("approve"))
				up, err := url.Parse(ans.header.Get("Location"))
				require.NoError(t, err)
				secrets = append(secrets, up.Query().Get("state"), up.Query().Get("code_challenge"))
				ans = b.get(up.String())
				cb, err := url.Parse(ans.header.Get("Location"))
				require.NoError(t, err)
				secrets = append(secrets, cb.Query().Get("code"))
				q := c.followToClient(b, b.get(cb.String()))
				secrets = append(secrets, q.Get("code"))

				ans = c.redeem(q.Get("code"))
				require.Equal(t, http.StatusOK, ans.status)
				tok := ans.json(t)
				rt := tok["refresh_token"].(string)
				secrets = append(secrets, tok["access_token"].(string), rt, tok["id_token"].(string))
				// Refusals that log: reuse, another client, replay.
				c.redeem(q.Get("code"))
				other := a
				if c == a {
					other = g
				}
				c.postForm(c.endpoint("token_endpoint"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {other.id}})
				ans = c.refresh(rt)
				require.Equal(t, http.StatusOK, ans.status)
				tok = ans.json(t)
				secrets = append(secrets, tok["access_token"].(string), tok["refresh_token"].(string))
				c.revoke(tok["refresh_token"].(string))
				c.revoke(tok["access_token"].(string))
				b.get(cb.String())
				b.post(form.action, url.Values{"request": {form.request}, "csrf": {"forged"}, "decision": {"approve"}})

				// A code the provider refuses: the exchange fails and is
				// logged, without the code.
				bad, err := url.Parse(c.callbackURL(b))
				require.NoError(t, err)
				bq := bad.Query()
				bq.Set("code", "refused-code-"+c.tenant+"-0123456789")
				secrets = append(secrets, bq.Get("code"), bq.Get("state"))
				bad.RawQuery = bq.Encode()
				assert.Equal(t, "server_error", b.get(bad.String()).location(t).Query().Get("error"))
			}
			logs := h.logs.String()
			require.Contains(t, logs, "oauthproxy: login", "the log was written")
			require.Contains(t, logs, "refresh token presented by another client")
			require.Contains(t, logs, "missing or wrong CSRF token")
			require.Contains(t, logs, `code exchange failed`)
			require.Contains(t, logs, `invalid_grant`)
			for _, s := range secrets {
				require.NotEmpty(t, s)
				assert.NotContains(t, logs, s, "a secret in the log")
			}
		})
	}
}
