package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// logLines is the stderr of an in-process run: slog writes one JSON line per
// Write, and the test reads them as they come.
type logLines struct {
	mu    sync.Mutex // guards all
	all   []byte
	lines chan map[string]any
}

func newLogLines() *logLines { return &logLines{lines: make(chan map[string]any, 1000)} }

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.all = append(l.all, p...)
	l.mu.Unlock()
	var line map[string]any
	if json.Unmarshal(p, &line) == nil {
		select {
		case l.lines <- line:
		default: // nobody waits for more lines; all keeps them
		}
	}
	return len(p), nil
}

// waitFor reads the lines as they come until n of them have message msg,
// failing after 30 s: a request's line is written after its response has
// gone out, so a test holding every answer may not have every line yet.
func (l *logLines) waitFor(t *testing.T, msg string, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for seen := 0; seen < n; {
		select {
		case line := <-l.lines:
			if line["msg"] == msg {
				seen++
			}
		case <-timeout:
			require.FailNow(t, fmt.Sprintf("%d %q lines expected", n, msg), l.String())
		}
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.all)
}

// runInProcess starts run with args and env on a free loopback port and
// returns the address it listens on; the test's cleanup stops it and checks
// that it drained without error.
func runInProcess(t *testing.T, env map[string]string, args ...string) (string, *logLines) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogLines()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-logs.lines:
			if line["msg"] == "listening" {
				return line["addr"].(string), logs
			}
		case err := <-done:
			require.FailNow(t, "run returned before listening", "%v\n%s", err, logs)
		case <-timeout:
			require.FailNow(t, "no listening line", logs.String())
		}
	}
}

// selfSigned writes a fresh certificate for 127.0.0.1 and its key, and
// returns their files and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "memcached-http test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

func TestServesHTTPSWithHTTP2(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	addr, logs := runInProcess(t, nil, "-tls-cert", certFile, "-tls-key", keyFile)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
	t.Cleanup(client.CloseIdleConnections)

	req, err := http.NewRequest(http.MethodPut, "https://"+addr+"/v1/ns/default/keys/k", strings.NewReader(`{"value": 1}`))
	require.NoError(t, err)
	resp, body := contracttest.Do(t, client, req)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.NotNil(t, resp.TLS)
	assert.Contains(t, logs.String(), `"tls":true`)

	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		defer plain.Body.Close()
		assert.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP to a TLS port is refused")
	}
}

func TestTLSNeedsAReadableKeyPair(t *testing.T) {
	certFile, _, _ := selfSigned(t)
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", certFile},
		func(string) string { return "" }, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-tls-cert/-tls-key")
}

func TestExposureNeedsAuthOrInsecure(t *testing.T) {
	tests := []struct {
		name     string
		addr     string
		auth     bool
		insecure bool
		wantErr  bool
	}{
		{"loopback IPv4 without auth is fine", "127.0.0.1:8080", false, false, false},
		{"loopback IPv6 without auth is fine", "[::1]:8080", false, false, false},
		{"localhost without auth is fine", "localhost:8080", false, false, false},
		{"every interface without auth is refused", ":8080", false, false, true},
		{"0.0.0.0 without auth is refused", "0.0.0.0:8080", false, false, true},
		{"a routable address without auth is refused", "192.0.2.10:8080", false, false, true},
		{"every interface with auth is fine", ":8080", true, false, false},
		{"every interface with -insecure is fine", "0.0.0.0:8080", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkExposure(tt.addr, tt.auth, tt.insecure)
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, hint := range []string{"refusing to listen on " + tt.addr, "without authentication", "-auth-file", "MEMCACHED_HTTP_TOKENS", "-insecure"} {
				assert.Contains(t, err.Error(), hint)
			}
		})
	}
}

func TestBinaryExitsWhenOpenWithoutAuth(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "-addr", "0.0.0.0:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	exit, ok := errors.AsType[*exec.ExitError](err)
	require.True(t, ok, "the binary must fail, got %v: %s", err, out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "refusing to listen on 0.0.0.0:0 without authentication")
}

func TestTokensFromFileAndEnvironmentAndNeverLogged(t *testing.T) {
	const fileToken, envToken = "file-secret-0123456789", "env-secret-9876543210"
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("# team A\n"+fileToken+" write team-*\n"), 0o600))
	addr, logs := runInProcess(t, map[string]string{"MEMCACHED_HTTP_TOKENS": envToken + " admin *"}, "-auth-file", file)

	call := func(method, path, token string) int {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(`{"value": 1}`))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, _ := contracttest.Do(t, http.DefaultClient, req)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, call(http.MethodPut, "/v1/ns/team-a/keys/k", fileToken))
	assert.Equal(t, http.StatusForbidden, call(http.MethodPut, "/v1/ns/other/keys/k", fileToken))
	assert.Equal(t, http.StatusForbidden, call(http.MethodPost, "/v1/flush", fileToken))
	assert.Equal(t, http.StatusOK, call(http.MethodPost, "/v1/flush", envToken))
	assert.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/v1/stats", ""))
	assert.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/v1/stats", fileToken+"x"))

	logs.waitFor(t, "request", 6)
	out := logs.String()
	assert.Contains(t, out, `"tokens":2`)
	assert.Contains(t, out, `"status":401`)
	assert.NotContains(t, out, fileToken)
	assert.NotContains(t, out, envToken[:10])
}

func TestAMalformedTokenFileStopsStartup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("secret-token-1234 superuser *\n"), 0o600))
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-auth-file", file}, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), file+":1")
	assert.Contains(t, err.Error(), `role "superuser"`)
	assert.NotContains(t, err.Error(), "secret-token-1234")
}
