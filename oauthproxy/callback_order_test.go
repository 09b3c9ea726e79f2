package oauthproxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallbackFromAnotherBrowserLeavesTheLogin: whoever learns a state (it
// travels in URLs) and sends the callback first, without the consent
// cookie or with another one, is refused and leaves the transaction as it
// was: the browser that consented still completes its login, once.
func TestCallbackFromAnotherBrowserLeavesTheLogin(t *testing.T) {
	_, a, _ := ready(t, byPath)
	// Another browser with a consent cookie of its own.
	attacker := a.h.browser("acme")
	parseConsent(t, attacker.get(a.authorizeURL()))

	victim := a.h.browser("acme")
	cb := a.callbackURL(victim)

	// A client with no cookie at all.
	bare := &browser{h: a.h, hc: a.h.client("acme")}
	for _, tc := range []struct {
		name string
		b    *browser
	}{{"wrong cookie", attacker}, {"no cookie", bare}} {
		ans := tc.b.get(cb)
		isPage(t, ans, http.StatusBadRequest)
		assert.Contains(t, string(ans.body), "Sign-in not accepted", tc.name)
	}
	assert.Contains(t, a.h.logs.String(), "callback from a browser that did not consent")

	// The state of the victim's login, as the callback URL carries it.
	u, err := url.Parse(cb)
	require.NoError(t, err)
	require.NotEmpty(t, u.Query().Get("state"))

	ans := victim.get(cb)
	require.Equal(t, http.StatusFound, ans.status, "the consenting browser's login survived: %s", ans.body)
	loc := ans.location(t)
	require.True(t, strings.HasPrefix(loc.String(), a.redirect+"?"), loc.String())
	q := loc.Query()
	require.NotEmpty(t, q.Get("code"), loc.String())
	assert.Equal(t, a.state, q.Get("state"))
	assert.Equal(t, http.StatusOK, a.redeem(q.Get("code")).status)

	// Still single use: the transaction is gone once the login completed.
	isPage(t, victim.get(cb), http.StatusBadRequest)
	isPage(t, attacker.get(cb), http.StatusBadRequest)
}

// TestCallbackRaceOneLogin: the consenting browser sends its callback many
// times at once; exactly one gets a code.
func TestCallbackRaceOneLogin(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	cb := a.callbackURL(b)
	const n = 8
	answers := make(chan *answer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := b.hc.Get(cb)
			if err != nil {
				answers <- &answer{}
				return
			}
			resp.Body.Close()
			answers <- &answer{status: resp.StatusCode, header: resp.Header}
		})
	}
	wg.Wait()
	close(answers)
	codes := 0
	for ans := range answers {
		switch ans.status {
		case http.StatusFound:
			require.NotEmpty(t, ans.location(t).Query().Get("code"))
			codes++
		case http.StatusBadRequest:
		default:
			t.Errorf("status %d", ans.status)
		}
	}
	assert.Equal(t, 1, codes, "one login")
}
