package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestREADMEWalkthrough runs the commands of README.md's walkthrough against
// the server, configured from the walkthrough's own "go run" line, and
// checks the status each command is announced with ("# 201") and the
// fragments quoted after it ("# 200 `"status":"ok"`"), so the README cannot
// drift from the code. The curl commands are interpreted here rather than
// run with curl, which CI machines need not have: the test knows exactly
// the curl options, pipes and variables the walkthrough uses, and fails on
// any other command, so that every command in it is checked.
func TestREADMEWalkthrough(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	cmds := walkthrough(t, string(data))
	require.NotEmpty(t, cmds)

	// The walkthrough's server: its environment, with REDIS_URL unset so
	// that it starts its own embedded Redis, as `go run` does.
	start := cmds[0]
	require.Contains(t, start.line, "go run ./examples/server", "the walkthrough starts with the server")
	for _, name := range []string{"LISTEN_ADDR", "PUBLIC_URL", "REDIS_URL", "MULTI_TENANT_ENABLED", "TENANT_IDENTIFICATION",
		"TENANT_BASE_DOMAIN", "TENANT_HEADER", "TENANT_ADMIN_API_KEY", "AUTH_REQUIRED", "OIDC_ISSUER", "OIDC_AUDIENCE"} {
		t.Setenv(name, "")
	}
	for _, kv := range start.env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	cfg, err := configFromEnv()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.ListenAddr, "the walkthrough's URLs assume the default address")
	cfg.Logger = slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	srv, err := newServer(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.closeSessions()
		ts.Close()
		srv.Close()
	})
	// 127.0.0.1:8080 and every *.localhost:8080 lead to the test server,
	// with the Host header the command names.
	addr := ts.Listener.Addr().String()
	client := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	defer client.CloseIdleConnections()

	vars := map[string]string{}
	for _, c := range cmds[1:] {
		c.run(t, client, vars)
	}
}

// command is one logical line of a shell block of the walkthrough.
type command struct {
	line   string   // the line, continuations joined
	status int      // the status announced by the comment before it
	frags  []string // the fragments quoted in that comment
	env    []string // NAME=value words before "go run"
}

var statusComment = regexp.MustCompile(`^#\s*(\d{3})\b(.*)$`)
var quoted = regexp.MustCompile("`([^`]+)`")

// walkthrough returns the commands of the README section whose title
// starts with "## Walkthrough".
func walkthrough(t *testing.T, readme string) []command {
	t.Helper()
	var cmds []command
	in, inBlock := false, false
	pending := command{}
	var cont strings.Builder
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.HasPrefix(line, "## Walkthrough")
			continue
		case !in:
			continue
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock && strings.TrimPrefix(line, "```") == "sh"
			continue
		case !inBlock:
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		cont.WriteString(line)
		full := strings.TrimSpace(cont.String())
		cont.Reset()
		switch {
		case full == "":
		case strings.HasPrefix(full, "#"):
			if m := statusComment.FindStringSubmatch(full); m != nil {
				fmt.Sscan(m[1], &pending.status)
				for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
					pending.frags = append(pending.frags, q[1])
				}
			}
		default:
			pending.line = full
			if strings.Contains(full, "go run ") {
				for _, w := range strings.Fields(full) {
					if !strings.Contains(w, "=") {
						break
					}
					pending.env = append(pending.env, w)
				}
			}
			cmds = append(cmds, pending)
			pending = command{}
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

var assignment = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=\$\((.*)\)$`)

// run interprets one command: curl, NAME=$(curl … | filters), or echo.
func (c command) run(t *testing.T, client *http.Client, vars map[string]string) {
	t.Helper()
	line, capture := c.line, ""
	if m := assignment.FindStringSubmatch(line); m != nil {
		capture, line = m[1], m[2]
	}
	words := shellWords(t, line, vars)
	if words[0] == "echo" {
		return
	}
	require.Equal(t, "curl", words[0], "the walkthrough runs only curl, echo and NAME=$(curl …): %s", c.line)
	require.NotZero(t, c.status, "announce the status of every command with a comment such as '# 200': %s", c.line)
	stages := splitPipe(words)
	out := c.curl(t, client, stages[0][1:])
	for _, st := range stages[1:] {
		out = filter(t, st, out)
	}
	if capture != "" {
		vars[capture] = strings.TrimRight(out, "\n")
		require.NotEmpty(t, vars[capture], "%s captured nothing: %s", capture, c.line)
	}
}

// curl performs the request of curl's arguments and returns what curl
// would print: the header block with -i or -D -, then the body unless
// -o /dev/null.
func (c command) curl(t *testing.T, client *http.Client, args []string) string {
	t.Helper()
	method, url, data := "", "", ""
	var header []string
	headers, body := false, true
	for i := 0; i < len(args); i++ {
		arg := func() string {
			i++
			require.Less(t, i, len(args), "missing value after %s", args[i-1])
			return args[i]
		}
		switch a := args[i]; a {
		case "-s":
		case "-i":
			headers = true
		case "-X":
			method = arg()
		case "-H":
			header = append(header, arg())
		case "-d":
			data = arg()
		case "-D":
			require.Equal(t, "-", arg(), "only -D - is interpreted")
			headers = true
		case "-o":
			require.Equal(t, "/dev/null", arg(), "only -o /dev/null is interpreted")
			body = false
		default:
			require.False(t, strings.HasPrefix(a, "-"), "curl option %s is not interpreted by this test", a)
			url = a
		}
	}
	if method == "" {
		method = http.MethodGet
		if data != "" {
			method = http.MethodPost
		}
	}
	var rd io.Reader
	if data != "" {
		rd = strings.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err, c.line)
	if data != "" {
		// curl's default for -d.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range header {
		name, value, ok := strings.Cut(h, ":")
		require.True(t, ok, "header %q", h)
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := client.Do(req)
	require.NoError(t, err, c.line)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 %s\r\n", resp.Status)
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	all := head.String() + string(b)
	require.Equal(t, c.status, resp.StatusCode, "%s\n%s", c.line, all)
	for _, f := range c.frags {
		require.Contains(t, all, f, c.line)
	}
	out := ""
	if headers {
		out = head.String()
	}
	if body {
		out += string(b)
	}
	return out
}

// filter applies one stage of a pipe: sed -E 's/re/repl/', sed -n
// 's/re/repl/p' or tr -d '\r'.
func filter(t *testing.T, st []string, in string) string {
	t.Helper()
	switch {
	case len(st) == 3 && st[0] == "tr" && st[1] == "-d" && st[2] == `\r`:
		return strings.ReplaceAll(in, "\r", "")
	case len(st) == 3 && st[0] == "sed" && (st[1] == "-E" || st[1] == "-n"):
		parts := strings.Split(st[2], "/")
		require.Len(t, parts, 4, "sed script %q", st[2])
		require.Equal(t, "s", parts[0], "sed script %q", st[2])
		re := regexp.MustCompile(parts[1])
		repl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(parts[2], "$${$1}")
		quiet := st[1] == "-n"
		require.Equal(t, quiet, parts[3] == "p", "sed -n goes with the p flag in this walkthrough")
		var out strings.Builder
		for _, line := range strings.SplitAfter(in, "\n") {
			if line == "" {
				continue
			}
			nl := strings.HasSuffix(line, "\n")
			text := strings.TrimSuffix(line, "\n")
			matched := re.MatchString(text)
			if matched {
				text = re.ReplaceAllString(text, repl)
			}
			if !quiet || matched {
				out.WriteString(text)
				if nl {
					out.WriteString("\n")
				}
			}
		}
		return out.String()
	}
	t.Fatalf("pipe stage %q is not interpreted by this test", st)
	return ""
}

// splitPipe splits words at "|".
func splitPipe(words []string) [][]string {
	var stages [][]string
	cur := []string{}
	for _, w := range words {
		if w == "|" {
			stages = append(stages, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, w)
	}
	return append(stages, cur)
}

// shellWords splits a line into words as sh does for the walkthrough's
// commands: single quotes, double quotes with $NAME expanded, unquoted
// $NAME, and "|" as a word of its own. Quoting is kept out of the words;
// an unquoted "|" becomes the word "|".
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	expand := func(i int) int {
		j := i + 1
		for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= '0' && line[j] <= '9') {
			j++
		}
		name := line[i+1 : j]
		v, ok := vars[name]
		require.True(t, ok, "$%s is not set by an earlier command", name)
		w.WriteString(v)
		return j
	}
	for i := 0; i < len(line); {
		switch ch := line[i]; {
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			i++
		case ch == '|':
			require.False(t, inWord, "write a space before |")
			words = append(words, "|")
			i++
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			require.GreaterOrEqual(t, j, 0, "unterminated ' in %s", line)
			w.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 2
		case ch == '"':
			inWord = true
			i++
			for i < len(line) && line[i] != '"' {
				switch {
				case line[i] == '$':
					i = expand(i)
				case line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`, line[i+1]) >= 0:
					w.WriteByte(line[i+1])
					i += 2
				default:
					w.WriteByte(line[i])
					i++
				}
			}
			require.Less(t, i, len(line), `unterminated " in %s`, line)
			i++
		case ch == '$':
			inWord = true
			i = expand(i)
		default:
			require.NotContains(t, "`;&<>(){}*?[]", string(ch), "shell syntax %q is not interpreted by this test: %s", ch, line)
			w.WriteByte(ch)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
