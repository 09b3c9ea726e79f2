package main

import (
	"bufio"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
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

// startServer stops the running server, if any, and starts the server with
// env, and with REDIS_URL unset so that it starts its own embedded Redis,
// as `go run` does. Every variable of the README's table is cleared first,
// as a fresh shell would have them (TestREADMEVariables keeps that table
// complete).
func (w *walk) startServer(env []string) {
	t := w.t
	if w.stop != nil {
		w.stop()
	}
	for _, name := range readmeVariables(t) {
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

// TestREADMEVariables checks the README's table of environment variables
// against the code, both ways: every variable the server reads (the
// library's, through tenancy.ConfigFrom, and its own, found in its source
// as getenv("NAME") or os.Getenv("NAME")) is listed, and every variable
// listed is read by one of them, so that the table neither misses a
// variable nor keeps one that no longer exists.
func TestREADMEVariables(t *testing.T) {
	read := map[string]string{}
	_, err := tenancy.ConfigFrom(func(name string) string {
		read[name] = "tenancy.ConfigFrom"
		return ""
	})
	require.NoError(t, err)
	own := serverVariables(t)
	require.Contains(t, own, "LISTEN_ADDR", "the server's own variables are found in its source")
	for _, name := range own {
		read[name] = "examples/server"
	}

	listed := readmeVariables(t)
	for name, reader := range read {
		assert.Contains(t, listed, name, "%s reads %s, which README.md's table of environment variables does not list", reader, name)
	}
	for _, name := range listed {
		assert.Contains(t, read, name, "README.md lists %s, which neither tenancy.ConfigFrom nor examples/server reads", name)
	}
}

// serverVariables returns the names of the variables the server's own
// (non-test) source reads: the string literals passed to getenv or to
// os.Getenv and os.LookupEnv.
func serverVariables(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var names []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if fn.Name != "getenv" {
					return true
				}
			case *ast.SelectorExpr:
				if pkg, ok := fn.X.(*ast.Ident); !ok || pkg.Name != "os" || (fn.Sel.Name != "Getenv" && fn.Sel.Name != "LookupEnv") {
					return true
				}
			default:
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			names = append(names, name)
			return true
		})
	}
	return names
}

// tableRow matches a row of the README's table of environment variables
// and captures the variable's name.
var tableRow = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\|")

// readmeVariables returns the variables of the table in README.md's
// section "### Environment variables".
func readmeVariables(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	var names []string
	in := false
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			in = line == "### Environment variables"
			continue
		}
		if m := tableRow.FindStringSubmatch(line); in && m != nil {
			require.NotContains(t, names, m[1], "README.md lists %s twice", m[1])
			names = append(names, m[1])
		}
	}
	require.NotEmpty(t, names, "README.md has no table under ### Environment variables")
	return names
}
