package auth_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/auth"
)

const config = `
# a reader of two namespaces
reader-token-0001 read team-a,shared
writer-token-0002 write team-*
admin-token-0003 admin *
scoped-admin-0004 admin team-b
empty-ns-0005 write ~
named-default-0006 write default
`

func parse(t *testing.T, s string) *auth.Tokens {
	t.Helper()
	var tokens auth.Tokens
	require.NoError(t, tokens.Parse("tokens", strings.NewReader(s)))
	return &tokens
}

func TestAuthenticate(t *testing.T) {
	tokens := parse(t, config)
	require.Equal(t, 6, tokens.Len())
	tests := []struct {
		name     string
		header   string
		wantRole auth.Role
		wantErr  error
	}{
		{"a configured token authenticates", "Bearer reader-token-0001", auth.RoleRead, nil},
		{"the scheme is case-insensitive", "bearer admin-token-0003", auth.RoleAdmin, nil},
		{"extra spaces before the token are allowed", "Bearer   writer-token-0002", auth.RoleWrite, nil},
		{"no header is no token", "", 0, auth.ErrNoToken},
		{"a Basic header is no token", "Basic dXNlcjpwYXNz", 0, auth.ErrNoToken},
		{"a bare scheme is no token", "Bearer ", 0, auth.ErrNoToken},
		{"an unknown token is refused", "Bearer reader-token-0009", 0, auth.ErrBadToken},
		{"a prefix of a token is refused", "Bearer reader-token-000", 0, auth.ErrBadToken},
		{"a token with a suffix is refused", "Bearer reader-token-00011", 0, auth.ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tokens.Authenticate(tt.header)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRole, p.Role)
			assert.Len(t, p.ID, 16)
		})
	}
}

func TestAllows(t *testing.T) {
	tokens := parse(t, config)
	principal := func(token string) *auth.Principal {
		p, err := tokens.Authenticate("Bearer " + token)
		require.NoError(t, err)
		return p
	}
	tests := []struct {
		name  string
		token string
		role  auth.Role
		ns    string
		want  bool
	}{
		{"a reader reads an exact namespace", "reader-token-0001", auth.RoleRead, "shared", true},
		{"a reader does not read a namespace it lacks", "reader-token-0001", auth.RoleRead, "team-b", false},
		{"an exact pattern is not a prefix", "reader-token-0001", auth.RoleRead, "shared2", false},
		{"a reader does not write", "reader-token-0001", auth.RoleWrite, "team-a", false},
		{"a writer writes under its prefix", "writer-token-0002", auth.RoleWrite, "team-zeta", true},
		{"a writer reads under its prefix", "writer-token-0002", auth.RoleRead, "team-", true},
		{"a writer stays inside its prefix", "writer-token-0002", auth.RoleWrite, "teams", false},
		{"a writer does not flush", "writer-token-0002", auth.RoleAdmin, auth.AllNamespaces, false},
		{"an admin of every namespace flushes", "admin-token-0003", auth.RoleAdmin, auth.AllNamespaces, true},
		{"an admin writes anywhere", "admin-token-0003", auth.RoleWrite, "x", true},
		{"an admin of one namespace does not flush all", "scoped-admin-0004", auth.RoleAdmin, auth.AllNamespaces, false},
		{"an admin of one namespace writes there", "scoped-admin-0004", auth.RoleWrite, "team-b", true},
		{"~ covers the empty namespace", "empty-ns-0005", auth.RoleWrite, "~", true},
		{"~ does not cover the namespace named default", "empty-ns-0005", auth.RoleRead, "default", false},
		{"~ does not cover another namespace", "empty-ns-0005", auth.RoleRead, "team-a", false},
		{"~ does not cover every namespace", "empty-ns-0005", auth.RoleWrite, auth.AllNamespaces, false},
		{"default covers the namespace named default", "named-default-0006", auth.RoleRead, "default", true},
		{"default does not cover the empty namespace", "named-default-0006", auth.RoleRead, "~", false},
		{"* covers the empty namespace", "admin-token-0003", auth.RoleRead, "~", true},
		{"a prefix never covers the empty namespace", "writer-token-0002", auth.RoleRead, "~", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, principal(tt.token).Allows(tt.role, tt.ns))
		})
	}
}

func TestParseRejectsMalformedLinesWithoutQuotingTheToken(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{"a missing pattern list", "secret-token-xyz read", "got 2 fields"},
		{"an unknown role", "secret-token-xyz owner ns", `role "owner"`},
		{"a token with a quote", `secret"token-xyz read ns`, "token may hold only"},
		{"a token of padding only", "=== read ns", "token may hold only"},
		{"a pattern with a bad character", "secret-token-xyz read team/a", `"team/a"`},
		{"an empty pattern", "secret-token-xyz read a,,b", "empty namespace pattern"},
		{"~ is not a prefix", "secret-token-xyz read ~*", `"~*"`},
		{"~ is not part of a name", "secret-token-xyz read a~", `[0-9A-Za-z._-]{0,100}`},
		{"a name longer than 100 characters", "secret-token-xyz read " + strings.Repeat("n", 101), "`~` (the empty namespace)"},
		{"a duplicate token", "secret-token-xyz read a\nsecret-token-xyz write b", "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tokens auth.Tokens
			err := tokens.Parse("file.txt", strings.NewReader(tt.line))
			require.ErrorIs(t, err, auth.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "file.txt:")
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestParseListSplitsOnSemicolons(t *testing.T) {
	var tokens auth.Tokens
	require.NoError(t, tokens.ParseList("MEMCACHED_HTTP_TOKENS", "tok-a read a; tok-b admin *"))
	assert.True(t, tokens.Enabled())
	assert.Equal(t, 2, tokens.Len())
	p, err := tokens.Authenticate("Bearer tok-b")
	require.NoError(t, err)
	assert.Equal(t, auth.RoleAdmin, p.Role)
}

func TestNoTokensMeansDisabled(t *testing.T) {
	var tokens auth.Tokens
	require.NoError(t, tokens.Parse("empty", strings.NewReader("# nothing\n\n")))
	assert.False(t, tokens.Enabled())
	assert.False(t, (*auth.Tokens)(nil).Enabled())
}

func TestPrincipalNeverPrintsItsToken(t *testing.T) {
	tokens := parse(t, config)
	p, err := tokens.Authenticate("Bearer admin-token-0003")
	require.NoError(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("who", "principal", p)
	for _, out := range []string{fmt.Sprint(p), fmt.Sprintf("%v", p), logs.String()} {
		assert.NotContains(t, out, "admin-token-0003")
		assert.Contains(t, out, p.ID)
	}
}

func TestRoleNames(t *testing.T) {
	assert.Equal(t, "read", auth.RoleRead.String())
	assert.Equal(t, "admin", auth.RoleAdmin.String())
	assert.Equal(t, "Role(9)", auth.Role(9).String())
}
