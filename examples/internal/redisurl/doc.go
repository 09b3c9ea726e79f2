// Package redisurl turns the REDIS_URL of the examples into a go-redis
// client, the way the example server and the migration tool both read it:
// one address is a single node, several comma-separated addresses are the
// seed nodes of a Redis Cluster.
//
//	REDIS_URL=redis://localhost:6379/0
//	REDIS_URL=rediss://user:secret@node1:6379,node2:6379,node3:6379
//
// In a cluster list the first element is a full URL and sets the scheme
// and credentials for all; the others are host:port or redis:// URLs
// without credentials of their own. List every node, replicas included:
// the client finds the cluster through any node that answers.
//
// A cluster client dials a node once per attempt (DialerRetries 1), with
// a one-second dial timeout and a two-second read timeout, so that while a
// dead master's replica takes over, the commands of its slots fail in
// milliseconds instead of holding their requests for seconds.
package redisurl
