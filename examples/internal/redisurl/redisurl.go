package redisurl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrInvalid is wrapped by every error of [Parse].
var ErrInvalid = errors.New("redisurl: invalid REDIS_URL")

// Options is a parsed REDIS_URL: exactly one of Single and Cluster is set.
type Options struct {
	Single  *redis.Options
	Cluster *redis.ClusterOptions
}

// Parse reads s. Credentials never appear in its errors, since a caller
// may well print them.
func Parse(s string) (Options, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			return Options{}, fmt.Errorf("%w: empty address in the list", ErrInvalid)
		}
	}
	first, err := redis.ParseURL(withScheme(parts[0]))
	if err != nil {
		return Options{}, fmt.Errorf("%w: first address: %s", ErrInvalid, redact(err))
	}
	if len(parts) == 1 {
		return Options{Single: first}, nil
	}
	if first.DB != 0 {
		return Options{}, fmt.Errorf("%w: a cluster has only database 0", ErrInvalid)
	}
	c := &redis.ClusterOptions{
		Username: first.Username,
		Password: first.Password,
		// A failover is a master that stops answering until its replica
		// takes over, and every command of its slots fails meanwhile:
		// one dial per attempt instead of go-redis's five makes each fail
		// in milliseconds rather than two seconds, and the timeouts bound
		// a command to a node that vanished or hangs (default: 5 s each).
		// The store reloads the slot map when commands fail, so the
		// client follows the failover within about a second of the
		// cluster being ok (see redisstore.New).
		DialerRetries: 1,
		DialTimeout:   time.Second,
		ReadTimeout:   2 * time.Second,
	}
	if first.TLSConfig != nil {
		// An empty ServerName makes the TLS dialer check each node
		// against its own address rather than the first node's name.
		c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	for i, p := range parts {
		addr, err := hostPort(p)
		if err != nil {
			return Options{}, fmt.Errorf("%w: address %d: %w", ErrInvalid, i+1, err)
		}
		c.Addrs = append(c.Addrs, addr)
	}
	return Options{Cluster: c}, nil
}

// NewClient parses s and returns a client: a *redis.Client for one
// address, a *redis.ClusterClient for several.
func NewClient(s string) (redis.UniversalClient, error) {
	o, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if o.Cluster != nil {
		return redis.NewClusterClient(o.Cluster), nil
	}
	return redis.NewClient(o.Single), nil
}

// Describe returns s without credentials, for logs: "redis://host:6379" or
// "cluster of 3 nodes (node1:6379, …)".
func Describe(o Options) string {
	if o.Cluster != nil {
		return fmt.Sprintf("cluster of %d nodes (%s)", len(o.Cluster.Addrs), strings.Join(o.Cluster.Addrs, ", "))
	}
	return o.Single.Addr
}

func withScheme(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "redis://" + s
}

// hostPort returns the host:port of one element of a cluster list. Its
// errors never quote the element, which may hold a password.
func hostPort(s string) (string, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", errors.New("not a URL")
		}
		if u.Scheme != "redis" && u.Scheme != "rediss" {
			return "", fmt.Errorf("scheme %q is not redis or rediss", u.Scheme)
		}
		s = u.Host
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "6379"
	}
	if n, err := strconv.Atoi(port); host == "" || strings.ContainsAny(host, "/@?#") || err != nil || n < 1 || n > 65535 {
		return "", errors.New("not a host:port")
	}
	return net.JoinHostPort(host, port), nil
}

// redact drops a URL that an error from net/url may quote, password and
// all, keeping only what went wrong.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
