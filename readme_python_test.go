package memcachedhttp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's Python snippets that use the drop-in (```python blocks that
// import memcached_http) run, in order, as one program against a fresh
// server; a line `expr  # <Python literal>` must evaluate to that literal.
// Comments that are not literals ("# False if it is already there") are prose.
func TestREADMEPythonExamples(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the README's Python examples need python3 (Debian: apt-get install -y python3)")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var program []string
	inBlock, keep := false, false
	var block []string
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case !inBlock && strings.TrimSpace(line) == "```python":
			inBlock, block = true, nil
		case inBlock && strings.HasPrefix(line, "```"):
			inBlock = false
			if keep = strings.Contains(strings.Join(block, "\n"), "from memcached_http import"); keep {
				program = append(program, block...)
			}
		case inBlock:
			block = append(block, line)
		}
	}
	require.NotEmpty(t, program, "README.md has no Python example using memcached_http")

	bin := filepath.Join(t.TempDir(), "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "memcached-http"), "./cmd/memcached-http")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	port := startREADMEServer(t, bin)

	// Each `expr  # literal` line becomes a check of expr's value.
	harness := `import ast, sys
src = sys.stdin.read()
lines = []
for n, line in enumerate(src.split("\n"), 1):
    code, sep, comment = line.partition("  #")
    want = None
    if sep and code.strip() and not code.lstrip().startswith(("from ", "import ", "#")) and "=" not in code.split("(")[0]:
        try:
            want = ast.literal_eval(comment.strip())
        except (ValueError, SyntaxError):
            want = None
        else:
            lines.append("__got = (%s)" % code.strip())
            lines.append("assert __got == %r, 'README line %d: %%r, want %%r' %% (__got, %r)" % (want, n, want))
            continue
    lines.append(line)
exec(compile("\n".join(lines), "README.md python examples", "exec"), {})
print("README python examples: ok")
`
	script := filepath.Join(t.TempDir(), "harness.py")
	require.NoError(t, os.WriteFile(script, []byte(harness), 0o600))
	cmd := exec.Command("python3", script)
	cmd.Env = append(cleanEnv(), "PYTHONPATH=sdk/python", "MEMCACHED_HTTP_URL=http://127.0.0.1:"+port)
	cmd.Stdin = strings.NewReader(strings.Join(program, "\n"))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "the README's Python examples failed:\n%s\nprogram:\n%s", out, strings.Join(program, "\n"))
	require.Contains(t, string(out), "README python examples: ok")
}
