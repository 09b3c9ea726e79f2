package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHTTPServerTimeouts checks that a client cannot hold a connection of
// the server forever: neither kept alive and idle after a request, nor
// trickling a request's body, while an answer that streams for longer
// (an MCP event stream) is never cut.
func TestHTTPServerTimeouts(t *testing.T) {
	defer func(h, b, i time.Duration) { readHeaderTimeout, readTimeout, idleTimeout = h, b, i }(readHeaderTimeout, readTimeout, idleTimeout)
	readHeaderTimeout, readTimeout, idleTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond

	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	})
	// stream reads the body, if any, then writes an event every 100 ms
	// for a second, past every timeout, unless its request ends first.
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 10 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, _ = fmt.Fprintf(w, "data: %d\n\n", i)
			_ = http.NewResponseController(w).Flush()
		}
		_, _ = io.WriteString(w, "data: end\n\n")
	})
	srv := newHTTPServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// closedWithin reports whether the server closes c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}

	t.Run("idle", func(t *testing.T) {
		c := dial()
		_, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.True(t, closedWithin(c, 3*time.Second), "an idle kept-alive connection is closed")
	})
	t.Run("slow body", func(t *testing.T) {
		c := dial()
		_, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nh")
		require.NoError(t, err)
		// One byte every 100 ms keeps every single read short.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := io.WriteString(c, "i"); err != nil {
					return
				}
			}
		}()
		assert.True(t, closedWithin(c, 3*time.Second), "a body that trickles in is cut")
	})
	t.Run("slow headers", func(t *testing.T) {
		c := dial()
		_, err := io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		assert.True(t, closedWithin(c, 3*time.Second), "headers that never end are cut")
	})
	for _, tc := range []struct{ name, request string }{
		{"stream", "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"stream after a body", "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"},
		{"stream after a chunked body", "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial()
			_, err := io.WriteString(c, tc.request)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasSuffix(string(body), "data: end\n\n"), "an answer that streams past the timeouts goes on: %q", body)
		})
	}
}
