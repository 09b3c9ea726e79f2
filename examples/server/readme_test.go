package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// TestREADMEWalkthrough runs the commands of README.md's walkthroughs
// against the server, configured from the walkthrough's own "go run"
// lines, and checks the status each command is announced with ("# 201")
// and the fragments quoted after it ("# 200 `"status":"ok"`"), so the README
// cannot drift from the code. The curl commands are interpreted here rather
// than run with curl, which CI machines need not have: the test knows
// exactly the curl options, pipes and variables the walkthroughs use, and
// fails on any other command, so that every command in them is checked. A
// "go run ./examples/server" line (re)starts the server with its
// environment; a "go run ./examples/idp" line starts the test identity
// provider that command runs, on a free port that replaces its address
// (IDP_ADDR) in every later command.
func TestREADMEWalkthrough(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	cmds := walkthrough(t, string(data))
	require.NotEmpty(t, cmds)
	require.Contains(t, cmds[0].line, "go run ./examples/server", "the walkthrough starts with the server")

	w := &walk{t: t, vars: map[string]string{}, jars: map[string]*cookiejar.Jar{}, subst: strings.NewReplacer()}
	// 127.0.0.1:8080 and every *.localhost:8080 lead to the test server,
	// with the Host header the command names; the identity provider is
	// reached where it listens.
	w.client = &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != w.idp {
				addr = w.server
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	defer w.client.CloseIdleConnections()
	for _, c := range cmds {
		c.line = w.subst.Replace(c.line)
		for i, f := range c.frags {
			c.frags[i] = w.subst.Replace(f)
		}
		switch {
		case strings.Contains(c.line, "go run ./examples/server"):
			w.startServer(c.env)
		case strings.Contains(c.line, "go run ./examples/idp"):
			w.startIdP(c.env)
		default:
			c.run(t, w.client, w.vars, w.jars)
		}
	}
}

// walk is the state of a walkthrough being run.
type walk struct {
	t      *testing.T
	client *http.Client
	vars   map[string]string
	jars   map[string]*cookiejar.Jar // curl's cookie files
	server string                    // the address of the running server
	stop   func()
	idp    string            // host:port of the identity provider, once started
	subst  *strings.Replacer // its address in the README, to the real one
}

// serverEnv are the variables a walkthrough's server line may set; each
// start clears them first, as a fresh shell would have them.
var serverEnv = []string{"LISTEN_ADDR", "PUBLIC_URL", "REDIS_URL", "MULTI_TENANT_ENABLED", "TENANT_IDENTIFICATION",
	"TENANT_BASE_DOMAIN", "TENANT_HEADER", "TENANT_ADMIN_API_KEY", "AUTH_REQUIRED", "OIDC_ISSUER", "OIDC_AUDIENCE",
	"OIDC_INSECURE_ALLOW_LOOPBACK", "TENANT_ENCRYPTION_KEY", "OAUTH_AUTHORIZATION_URL", "OAUTH_TOKEN_URL",
	"OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OAUTH_REVOCATION_URL"}

// startServer stops the running server, if any, and starts the server with
// env, and with REDIS_URL unset so that it starts its own embedded Redis,
// as `go run` does.
func (w *walk) startServer(env []string) {
	t := w.t
	if w.stop != nil {
		w.stop()
	}
	for _, name := range serverEnv {
		t.Setenv(name, "")
	}
	for _, kv := range env {
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
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			srv.closeSessions()
			ts.Close()
			srv.Close()
		})
	}
	t.Cleanup(w.stop)
	w.server = ts.Listener.Addr().String()
	w.client.CloseIdleConnections()
}

// startIdP starts the test identity provider of examples/idp, configured
// from env as that command is.
func (w *walk) startIdP(env []string) {
	vars := map[string]string{"IDP_ADDR": "127.0.0.1:9000"}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	idp := oidctest.New(w.t)
	idp.RegisterClient(oidctest.Client{ID: vars["IDP_CLIENT_ID"], Secret: vars["IDP_CLIENT_SECRET"],
		Audience: vars["IDP_AUDIENCE"], RedirectURIs: strings.Split(vars["IDP_REDIRECT_URI"], ",")})
	if vars["IDP_SUBJECT"] != "" {
		idp.SetSubject(vars["IDP_SUBJECT"])
	}
	w.idp = strings.TrimPrefix(idp.Issuer(), "http://")
	w.subst = strings.NewReplacer(vars["IDP_ADDR"], w.idp)
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

var (
	assignment = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=\$\((.*)\)$`)
	// setting is NAME="…" or NAME='…'.
	setting = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(".*"|'.*')$`)
)

// run interprets one command: curl, NAME=$(curl … | filters), NAME="…", or
// echo. jars are the cookie files of curl's -c and -b.
func (c command) run(t *testing.T, client *http.Client, vars map[string]string, jars map[string]*cookiejar.Jar) {
	t.Helper()
	if m := setting.FindStringSubmatch(c.line); m != nil {
		words := shellWords(t, m[2], vars)
		require.Len(t, words, 1, c.line)
		vars[m[1]] = words[0]
		return
	}
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
	out := c.curl(t, client, jars, stages[0][1:])
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
// -o /dev/null. Several -d and --data-urlencode join with '&', the latter
// encoding what follows its first '='; -b sends the cookies of a file, -c
// keeps the answer's.
func (c command) curl(t *testing.T, client *http.Client, jars map[string]*cookiejar.Jar, args []string) string {
	t.Helper()
	method, target := "", ""
	var data []string
	var header []string
	var send, keep *cookiejar.Jar
	jar := func(name string) *cookiejar.Jar {
		if jars[name] == nil {
			j, err := cookiejar.New(nil)
			require.NoError(t, err)
			jars[name] = j
		}
		return jars[name]
	}
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
			data = append(data, arg())
		case "--data-urlencode":
			name, value, _ := strings.Cut(arg(), "=")
			data = append(data, name+"="+url.QueryEscape(value))
		case "-b":
			send = jar(arg())
		case "-c":
			keep = jar(arg())
		case "-D":
			require.Equal(t, "-", arg(), "only -D - is interpreted")
			headers = true
		case "-o":
			require.Equal(t, "/dev/null", arg(), "only -o /dev/null is interpreted")
			body = false
		default:
			require.False(t, strings.HasPrefix(a, "-"), "curl option %s is not interpreted by this test", a)
			target = a
		}
	}
	if method == "" {
		method = http.MethodGet
		if data != nil {
			method = http.MethodPost
		}
	}
	var rd io.Reader
	if data != nil {
		rd = strings.NewReader(strings.Join(data, "&"))
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(t, err, c.line)
	if send != nil {
		for _, ck := range send.Cookies(req.URL) {
			req.AddCookie(ck)
		}
	}
	if data != nil {
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
	if keep != nil {
		keep.SetCookies(req.URL, resp.Cookies())
	}
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
// 's/re/repl/p', sed -nE 's/re/repl/p' or tr -d '\r'.
func filter(t *testing.T, st []string, in string) string {
	t.Helper()
	switch {
	case len(st) == 3 && st[0] == "tr" && st[1] == "-d" && st[2] == `\r`:
		return strings.ReplaceAll(in, "\r", "")
	case len(st) == 3 && st[0] == "sed" && (st[1] == "-E" || st[1] == "-n" || st[1] == "-nE"):
		parts := strings.Split(st[2], "/")
		require.Len(t, parts, 4, "sed script %q", st[2])
		require.Equal(t, "s", parts[0], "sed script %q", st[2])
		re := regexp.MustCompile(parts[1])
		repl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(parts[2], "$${$1}")
		quiet := st[1] != "-E"
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
