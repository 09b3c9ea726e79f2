package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/seedmcp/tenancy"
)

// defaultListenAddr is where the server listens when LISTEN_ADDR is unset.
const defaultListenAddr = "127.0.0.1:8080"

// config is everything the server reads from its environment.
type config struct {
	// ListenAddr is the address to listen on (LISTEN_ADDR).
	// default: 127.0.0.1:8080
	ListenAddr string
	// PublicURL is the base of the URLs the server gives out in
	// protected-resource metadata and bearer challenges (PUBLIC_URL).
	// default: http://<ListenAddr>
	PublicURL string
	// RedisURL names the Redis server or cluster (REDIS_URL). When it is
	// empty and Tenancy.Redis is nil, the server starts an embedded
	// miniredis.
	RedisURL string
	// AuthRequired makes /mcp refuse requests without a valid bearer token
	// (AUTH_REQUIRED). When false, requests without a token go through
	// anonymously; a presented token is still verified.
	// default: true
	AuthRequired bool
	// Metrics serves per-tenant request counts and latencies, and the
	// refusals by reason, at GET /metrics in the Prometheus text format
	// (METRICS_ENABLED). The answer is not protected and names every
	// tenant that sent a request: enable it only where the listener is
	// not reachable from outside, or put the route behind an
	// authenticating proxy.
	// default: false
	Metrics bool
	// Tenancy is the library's configuration (MULTI_TENANT_ENABLED,
	// TENANT_*, OIDC_*, OAUTH_*, DCR_CLIENT_TTL, REDIS_SESSION_TTL). A
	// Redis client set here is used as is and never closed by the server,
	// which is how the tests hand it their Redis.
	//
	// OIDC_INSECURE_ALLOW_LOOPBACK=true sets its
	// OIDC.InsecureAllowLoopback: tenants may then name identity
	// providers on 127.0.0.1, ::1 or localhost, and the server fetches
	// their keys there. It is for development and tests, with a provider
	// on the same machine; it MUST NOT be set where whoever creates
	// tenants is not trusted with what listens on the server's loopback
	// interface (the admin API, for one). default: false
	Tenancy tenancy.Config
	// Logger receives the server's log lines.
	// default: slog.Default()
	Logger *slog.Logger
}

// configFromEnv reads the configuration from the environment. Every
// malformed value is reported, each naming its variable. It reads the
// process environment (and not a function passed in) because
// tenancy.ConfigFromEnv does; tests set variables with t.Setenv.
func configFromEnv() (config, error) {
	getenv := os.Getenv
	var errs []error
	tc, err := tenancy.ConfigFromEnv()
	if err != nil {
		errs = append(errs, err)
	}
	c := config{
		ListenAddr:   getenv("LISTEN_ADDR"),
		PublicURL:    getenv("PUBLIC_URL"),
		RedisURL:     strings.TrimSpace(getenv("REDIS_URL")),
		AuthRequired: true,
		Tenancy:      tc,
	}
	if c.ListenAddr == "" {
		c.ListenAddr = defaultListenAddr
	} else if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		errs = append(errs, fmt.Errorf("server: LISTEN_ADDR=%q is invalid: accepted values are host:port, such as 127.0.0.1:8080", c.ListenAddr))
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + publicHost(c.ListenAddr)
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// A URL with user information may hold a password: it is refused
		// without being quoted.
		shown := fmt.Sprintf("=%q", c.PublicURL)
		if strings.Contains(c.PublicURL, "@") {
			shown = ""
		}
		errs = append(errs, fmt.Errorf("server: PUBLIC_URL%s is invalid: accepted values are absolute http or https URLs without user information or query, such as https://seed.example.com", shown))
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if v := getenv("AUTH_REQUIRED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("server: AUTH_REQUIRED=%q is invalid: accepted values are true or false", v))
		}
		c.AuthRequired = b
	}
	if v := getenv("OIDC_INSECURE_ALLOW_LOOPBACK"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("server: OIDC_INSECURE_ALLOW_LOOPBACK=%q is invalid: accepted values are true or false", v))
		}
		c.Tenancy.OIDC.InsecureAllowLoopback = b
	}
	if v := getenv("METRICS_ENABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("server: METRICS_ENABLED=%q is invalid: accepted values are true or false", v))
		}
		c.Metrics = b
	}
	if len(errs) > 0 {
		return config{}, errors.Join(errs...)
	}
	return c, nil
}

// publicHost returns the host:port clients use for a listen address: a
// server listening on every interface (":8080", "0.0.0.0:8080") is reached
// on localhost.
func publicHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
