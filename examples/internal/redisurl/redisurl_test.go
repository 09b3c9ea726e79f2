package redisurl

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in       string
		addr     string   // single node
		addrs    []string // cluster
		user, pw string
		db       int
		tls      bool
	}{
		{in: "redis://localhost:6379", addr: "localhost:6379"},
		{in: "localhost:6380", addr: "localhost:6380"},
		{in: "redis://:pw@10.0.0.1:6379/3", addr: "10.0.0.1:6379", pw: "pw", db: 3},
		{in: "rediss://u:pw@redis.example.com", addr: "redis.example.com:6379", user: "u", pw: "pw", tls: true},
		{in: "redis://a:7000,b:7001,c:7002", addrs: []string{"a:7000", "b:7001", "c:7002"}},
		{in: "redis://u:pw@a:7000, redis://b:7001 ,c", addrs: []string{"a:7000", "b:7001", "c:6379"}, user: "u", pw: "pw"},
		{in: "rediss://a:7000,b:7001", addrs: []string{"a:7000", "b:7001"}, tls: true},
		{in: "redis://[::1]:7000,[::1]:7001", addrs: []string{"[::1]:7000", "[::1]:7001"}},
	} {
		o, err := Parse(tc.in)
		require.NoError(t, err, tc.in)
		if tc.addrs == nil {
			require.NotNil(t, o.Single, tc.in)
			assert.Nil(t, o.Cluster)
			assert.Equal(t, tc.addr, o.Single.Addr, tc.in)
			assert.Equal(t, tc.user, o.Single.Username, tc.in)
			assert.Equal(t, tc.pw, o.Single.Password, tc.in)
			assert.Equal(t, tc.db, o.Single.DB, tc.in)
			assert.Equal(t, tc.tls, o.Single.TLSConfig != nil, tc.in)
			continue
		}
		require.NotNil(t, o.Cluster, tc.in)
		assert.Nil(t, o.Single)
		assert.Equal(t, tc.addrs, o.Cluster.Addrs, tc.in)
		assert.Equal(t, tc.user, o.Cluster.Username, tc.in)
		assert.Equal(t, tc.pw, o.Cluster.Password, tc.in)
		// A dead master fails each command fast, so that requests are
		// not held while its replica takes over.
		assert.Equal(t, 1, o.Cluster.DialerRetries, tc.in)
		assert.Equal(t, time.Second, o.Cluster.DialTimeout, tc.in)
		assert.Equal(t, 2*time.Second, o.Cluster.ReadTimeout, tc.in)
		if assert.Equal(t, tc.tls, o.Cluster.TLSConfig != nil, tc.in) && tc.tls {
			assert.Empty(t, o.Cluster.TLSConfig.ServerName, "each node is checked against its own name")
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"http://localhost:6379",
		"redis://a:1,,b:2",
		"redis://a:1/2,b:2",
		"redis://a:1,http://b:2",
		"redis://a:1,user@b:2",
		"redis://:s3cret@host:notaport",
		// Credentials repeated on a later node, or in its query, are
		// refused without being quoted.
		"redis://u:s3cret@a:1,u:s3cret@b:2",
		"redis://a:1,b:2?password=s3cret",
		"redis://a:1,b:s3cret",
	} {
		_, err := Parse(in)
		require.ErrorIs(t, err, ErrInvalid, in)
		assert.NotContains(t, err.Error(), "s3cret", "no credentials in errors")
	}
}

func TestNewClient(t *testing.T) {
	c, err := NewClient("redis://localhost:6379")
	require.NoError(t, err)
	defer c.Close()
	assert.IsType(t, &redis.Client{}, c)

	cc, err := NewClient("redis://a:7000,b:7001")
	require.NoError(t, err)
	defer cc.Close()
	assert.IsType(t, &redis.ClusterClient{}, cc)
}

func TestDescribe(t *testing.T) {
	o, err := Parse("redis://u:secret@a:7000,b:7001")
	require.NoError(t, err)
	assert.Equal(t, "cluster of 2 nodes (a:7000, b:7001)", Describe(o))
	o, err = Parse("redis://u:secret@a:7000")
	require.NoError(t, err)
	assert.Equal(t, "a:7000", Describe(o))
}
