package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	memcachedhttp "github.com/memcached-http/memcached-http"
)

func TestVersionPrintsTheReleaseAfterCheckingFlags(t *testing.T) {
	var out bytes.Buffer
	prev := stdout
	stdout = &out
	t.Cleanup(func() { stdout = prev })

	require.NoError(t, run(context.Background(), []string{"-version", "-addr", "127.0.0.1:1"}, func(string) string { return "" }, &bytes.Buffer{}))
	assert.Regexp(t, `^memcached-http `+regexp.QuoteMeta(memcachedhttp.Version)+` \(go1\.[0-9.]+, [a-z0-9]+/[a-z0-9]+\)\n$`, out.String())

	out.Reset()
	err := run(context.Background(), []string{"-version"}, func(k string) string {
		return map[string]string{"MEMCACHED_HTTP_STORE": "ftp://cache"}[k]
	}, &bytes.Buffer{})
	require.Error(t, err, "-version checks the configuration first, so it doubles as a dry run")
	assert.Contains(t, err.Error(), `not scheme "ftp"`)
	assert.Empty(t, out.String())
}

func TestHelpShowsLowerCaseLogLevel(t *testing.T) {
	var help bytes.Buffer
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &help)
	require.Error(t, err)
	assert.Contains(t, help.String(), "-log-level level\n")
	assert.Contains(t, help.String(), "(default info)")
	assert.NotContains(t, help.String(), "INFO")
	assert.Contains(t, help.String(), "-version")
}

func TestStartupLineNamesTheAPIAndDocsURLs(t *testing.T) {
	addr, logs := runInProcess(t, nil)
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"listening"`) {
			require.NoError(t, json.Unmarshal([]byte(l), &line))
		}
	}
	require.NotNil(t, line, logs.String())
	assert.Equal(t, "http://"+addr+"/v1", line["url"])
	assert.Equal(t, "http://"+addr+"/docs", line["docs"])
	assert.Equal(t, memcachedhttp.Version, line["version"])

	resp, err := http.Get(line["docs"].(string))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the logged /docs URL serves Swagger UI")
}

func TestBaseURLShowsWildcardsAsLocalhost(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		"[::]:9000":      "http://localhost:9000",
		"[::1]:8080":     "http://[::1]:8080",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		assert.Equal(t, want, baseURL(tcp, false), addr)
	}
	tcp, _ := net.ResolveTCPAddr("tcp", "10.1.2.3:443")
	assert.True(t, strings.HasPrefix(baseURL(tcp, true), "https://10.1.2.3:443"))
}
