package memcachedhttp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/testserver"
)

// README.md's shell examples are tests. Every ```sh block runs, in order, in
// one bash session (so variables carry over) in an empty directory, with the
// freshly built memcached-http first on PATH:
//
//   - http://127.0.0.1:8080 is a fresh server this test starts; other
//     loopback ports (127.0.0.1:8081, --servers=127.0.0.1:8084) are free
//     ports, for servers the examples start themselves;
//   - each "#   text" comment line after a command is a line that command
//     prints: the lines must appear in its standard output in that order,
//     "…" (or "...") standing for any text; every command must exit 0;
//   - a command that starts a server in the foreground (`memcached-http …`,
//     `go run ./cmd/memcached-http …`) runs with -version added: the binary
//     checks every flag and variable of the line, then exits instead of
//     serving;
//   - `make …` is not run: `make test` is what runs this, and runs the
//     targets the README names (release-check builds the release); nor is
//     `docker …`, which scripts/docker-check.sh runs where an engine can;
//   - CHECKOUT is this checkout, for the SDK install examples.
//
// The whole README runs twice against the same server, since examples must
// be repeatable, not only right on a fresh server.
func TestREADMEExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "memccp", "go", "npm", "node", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			debs := map[string]string{"memccp": "libmemcached-tools", "go": "golang", "npm": "npm", "node": "nodejs"}
			if debs[tool] == "" {
				debs[tool] = tool
			}
			t.Fatalf("the README examples need %s: install it (Debian: apt-get install -y %s)", tool, debs[tool])
		}
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := shellBlocks(string(readme))
	require.NotEmpty(t, blocks, "README.md has no ```sh blocks")

	bin := filepath.Join(t.TempDir(), "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "memcached-http"), "./cmd/memcached-http")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	ports := map[string]string{"8080": startREADMEServer(t, bin)}
	rewrite := func(s string) string {
		return loopbackPort.ReplaceAllStringFunc(s, func(m string) string {
			port := loopbackPort.FindStringSubmatch(m)[2]
			if _, ok := ports[port]; !ok {
				ports[port] = freePort(t)
			}
			return strings.Replace(m, port, ports[port], 1)
		})
	}

	for pass := 1; pass <= 2; pass++ {
		sh := startShell(t, bin)
		ran := 0
		for _, b := range blocks {
			for _, c := range b.commands {
				where := fmt.Sprintf("README.md:%d (pass %d)", c.line, pass)
				script, skip := prepare(c.text)
				if skip != "" {
					t.Logf("%s: not run (%s): %s", where, skip, c.text)
					continue
				}
				stdout, stderr, status := sh.run(t, rewrite(script), where)
				ran++
				if status != 0 {
					t.Errorf("%s: %s\nexited %d\nstdout:\n%s\nstderr:\n%s", where, c.text, status, stdout, stderr)
					continue
				}
				if missing := unmatched(c.want, strings.Split(stdout, "\n")); missing != "" {
					t.Errorf("%s: %s\nwant the line\n\t%s\nin its output:\n%s\nstderr:\n%s", where, c.text, missing, stdout, stderr)
				}
			}
		}
		sh.close()
		t.Logf("pass %d: %d README commands ran", pass, ran)
	}
}

// block is one ```sh block; command is one command in it (continuation
// lines joined) with the output lines documented under it.
type block struct{ commands []command }

type command struct {
	line int // in README.md
	text string
	want []string
}

func shellBlocks(readme string) []block {
	var blocks []block
	var cur *block
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &block{}
		case cur == nil:
		case strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case strings.HasPrefix(line, "#   "):
			if n := len(cur.commands); n > 0 {
				cur.commands[n-1].want = append(cur.commands[n-1].want, strings.TrimPrefix(line, "#   "))
			}
		case strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		default:
			c := command{line: i + 1, text: line}
			for strings.HasSuffix(c.text, "\\") && i+1 < len(lines) {
				i++
				c.text += "\n" + lines[i]
			}
			cur.commands = append(cur.commands, c)
		}
	}
	return blocks
}

// loopbackPort is a loopback address in an example: 127.0.0.1:8080, or
// "127.0.0.1 11211" as nc takes it (--servers=127.0.0.1:8084 too).
var loopbackPort = regexp.MustCompile(`127\.0\.0\.1([: ])(\d{4,5})\b`)

var (
	envAssignments = `(?:[A-Z_][A-Z0-9_]*=(?:'[^']*'|"[^"]*"|\S*)\s+)*`
	serverCommand  = regexp.MustCompile(`^(` + envAssignments + `)(memcached-http|go run \./cmd/memcached-http)\b`)
)

// prepare turns a README command into what the shell runs, or says why it
// is not run.
func prepare(text string) (script, skip string) {
	trimmed := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(trimmed, "make "):
		return "", "make targets: make test runs this test and the targets it names"
	case strings.HasPrefix(trimmed, "docker ") || strings.HasPrefix(trimmed, "podman "):
		return "", "container commands: scripts/docker-check.sh runs them where an engine can"
	}
	if m := serverCommand.FindStringSubmatchIndex(text); m != nil && !regexp.MustCompile(`&\s*(#.*)?$`).MatchString(trimmed) {
		return text[:m[2]] + text[m[2]:m[3]] + "memcached-http -version" + text[m[1]:], ""
	}
	return text, ""
}

// unmatched returns the first wanted line not found, in order, in got.
func unmatched(want, got []string) string {
	i := 0
	for _, w := range want {
		re := wantLine(w)
		for i < len(got) && !re.MatchString(got[i]) {
			i++
		}
		if i == len(got) {
			return w
		}
		i++
	}
	return ""
}

func wantLine(w string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, part := range regexp.MustCompile(`…|\.\.\.`).Split(w, -1) {
		if b.Len() > 1 {
			b.WriteString(".*")
		}
		b.WriteString(regexp.QuoteMeta(part))
	}
	b.WriteString(`\s*$`)
	return regexp.MustCompile(b.String())
}

// startREADMEServer starts the binary on a free port as the README's
// 127.0.0.1:8080 and returns the port.
func startREADMEServer(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "memcached-http"), "-addr", "127.0.0.1:0")
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "the server exited before listening")
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				go func() {
					for range lines {
					}
				}()
				_, port, err := net.SplitHostPort(entry.Addr)
				require.NoError(t, err)
				return port
			}
		case <-deadline:
			require.FailNow(t, "the server did not start")
		}
	}
}

// freePort is a port for a server an example starts on a port the README
// names, which the rewritten example must name up front: it comes from
// outside the ephemeral range (testserver.PickPort), so the test's own
// connections cannot take it before the example's server binds it.
func freePort(t *testing.T) string {
	t.Helper()
	port, err := testserver.PickPort()
	require.NoError(t, err)
	return strconv.Itoa(port)
}

// cleanEnv is the test's environment without MEMCACHED_HTTP_* settings, which
// would change what the examples show.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMCACHED_HTTP_") {
			env = append(env, kv)
		}
	}
	return env
}

// shell is one bash session; run sends it a command and reads until the
// marker that follows the command's output.
type shell struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *lockedBuffer
}

const marker = "\x1eREADME-DONE "

func startShell(t *testing.T, bin string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = t.TempDir()
	checkout, err := os.Getwd()
	require.NoError(t, err)
	cmd.Env = append(cleanEnv(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "CHECKOUT="+checkout)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // servers the examples start die with it
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	sh := &shell{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: &lockedBuffer{}}
	cmd.Stderr = sh.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(sh.close)
	return sh
}

func (sh *shell) run(t *testing.T, script, where string) (stdout, stderr string, status int) {
	t.Helper()
	sh.stderr.Reset()
	// Braces keep variables in the session; </dev/null keeps commands from
	// reading the script.
	_, err := fmt.Fprintf(sh.stdin, "{\n%s\n} </dev/null\nprintf '\\n%s%%d\\n' $?\n", script, marker)
	require.NoError(t, err, where)
	type result struct {
		out    string
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var out strings.Builder
		for {
			line, err := sh.stdout.ReadString('\n')
			if i := strings.Index(line, marker); i >= 0 {
				out.WriteString(line[:i])
				n, _ := strconv.Atoi(strings.TrimSpace(line[i+len(marker):]))
				done <- result{out: out.String(), status: n}
				return
			}
			out.WriteString(line)
			if err != nil {
				done <- result{out: out.String(), err: err}
				return
			}
		}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err, "%s: the shell ended", where)
		return strings.TrimRight(r.out, "\n"), sh.stderr.String(), r.status
	case <-time.After(5 * time.Minute): // an npm install of the SDK may fetch its dependencies
		sh.close()
		require.FailNow(t, where+": the command did not finish in 5 minutes", script)
		return "", "", 0
	}
}

func (sh *shell) close() {
	if sh.cmd.Process != nil && sh.cmd.ProcessState == nil {
		_ = sh.stdin.Close()
		_ = syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
		_ = sh.cmd.Wait()
	}
}

// lockedBuffer is a bytes.Buffer safe for the shell's writes and the test's reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
