// Package auth holds the bearer tokens of memcached-http: who may call, with
// which role, and on which namespaces.
//
// A token is configured as one line, `token role pattern,pattern…`:
//
//	# comments and blank lines are ignored
//	3f9a1c0e5b7d2a64c8e1f0b9d7a5c3e1 read  team-a,shared
//	7c2e9b4f1a0d8e6c5b3a2f1e0d9c8b7a write team-*
//	0a1b2c3d4e5f60718293a4b5c6d7e8f9 admin *
//
// The role is read (get, get_multi), write (read plus every write) or admin
// (write plus flush_all, get_stats and /metrics). Patterns spell namespaces
// as the wire does: an exact namespace name (`default` is an ordinary name),
// `~` for App Engine's empty namespace and nothing else, a prefix ending in
// `*` (`team-*`, never matching the empty namespace), or `*` for every
// namespace, the empty one included; whole-cache operations (flush, stats,
// metrics) need `*`, since they touch every namespace. Tokens are RFC 6750
// b64token characters.
//
// Tokens are kept only as SHA-256 digests beside the token bytes: a presented
// token is hashed, looked up by digest, and then compared in constant time,
// so neither the lookup nor the comparison leaks how much of a guess matched.
package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// Errors of Authenticate and Allows; callers compare them with errors.Is.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("auth: no bearer token")
	// ErrBadToken: the bearer token is not one that is configured.
	ErrBadToken = errors.New("auth: invalid bearer token")
	// ErrForbidden: the token is valid but its role or namespaces do not cover the request.
	ErrForbidden = errors.New("auth: permission denied")
	// ErrConfig: a token line is malformed.
	ErrConfig = errors.New("auth: invalid token configuration")
)

// Role is what a token may do; each role includes the ones below it.
type Role uint8

const (
	// RoleRead allows reads of keys in the token's namespaces.
	RoleRead Role = iota + 1
	// RoleWrite allows reads and writes of keys in the token's namespaces.
	RoleWrite
	// RoleAdmin also allows whole-cache operations (flush, stats, metrics).
	RoleAdmin
)

var roleNames = [...]string{RoleRead: "read", RoleWrite: "write", RoleAdmin: "admin"}

// String returns the role's configuration name.
func (r Role) String() string {
	if int(r) < len(roleNames) && roleNames[r] != "" {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", r)
}

func parseRole(s string) (Role, bool) {
	for r, name := range roleNames {
		if name != "" && name == s {
			return Role(r), true
		}
	}
	return 0, false
}

// AllNamespaces is the namespace argument of Allows for whole-cache
// operations; only the `*` pattern covers it.
const AllNamespaces = ""

// Principal is one configured token's grant.
type Principal struct {
	// ID names the token in logs and rate-limit keys without revealing it:
	// the first 8 bytes of its SHA-256 digest, in hex.
	ID       string
	Role     Role
	patterns []string // exact names, or prefixes when ending in '*'
	token    []byte
}

// String names the principal by ID, so formatting one never prints its token.
func (p *Principal) String() string { return "token " + p.ID }

// LogValue logs the principal by ID and role, never by token.
func (p *Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.String("role", p.Role.String()))
}

// Allows reports whether p may perform an operation needing role on ns,
// spelled as on the wire (`~` for the empty namespace), or AllNamespaces for
// whole-cache operations.
func (p *Principal) Allows(role Role, ns string) bool {
	if p.Role < role {
		return false
	}
	for _, pat := range p.patterns {
		if pat == "*" {
			return true
		}
		if ns == AllNamespaces {
			continue
		}
		if prefix, ok := strings.CutSuffix(pat, "*"); ok {
			if strings.HasPrefix(ns, prefix) {
				return true
			}
		} else if pat == ns {
			return true
		}
	}
	return false
}

// Tokens is the set of configured tokens. The zero value has none, which
// means authentication is off.
type Tokens struct {
	byDigest map[[sha256.Size]byte]*Principal
}

// Len returns how many tokens are configured.
func (t *Tokens) Len() int { return len(t.byDigest) }

// Enabled reports whether any token is configured, i.e. whether requests
// must authenticate.
func (t *Tokens) Enabled() bool { return t != nil && len(t.byDigest) > 0 }

// Parse reads token lines (see the package comment) from r and adds them;
// source names r in errors (a file name or an environment variable).
func (t *Tokens) Parse(source string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if err := t.addLine(sc.Text()); err != nil {
			return fmt.Errorf("%s:%d: %w", source, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("auth: read %s: %w", source, err)
	}
	return nil
}

// ParseList adds the token lines of s, separated by newlines or ';' (the
// form an environment variable holds comfortably).
func (t *Tokens) ParseList(source, s string) error {
	return t.Parse(source, strings.NewReader(strings.ReplaceAll(s, ";", "\n")))
}

// addLine adds one configuration line. Errors never quote the line, which
// holds a secret.
func (t *Tokens) addLine(line string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	fields := strings.Fields(line)
	if len(fields) != 3 {
		return fmt.Errorf("%w: want `token role patterns`, got %d fields", ErrConfig, len(fields))
	}
	token, roleName, list := fields[0], fields[1], fields[2]
	if !isB64Token(token) {
		return fmt.Errorf("%w: a token may hold only A-Z a-z 0-9 - . _ ~ + / and trailing =", ErrConfig)
	}
	role, ok := parseRole(roleName)
	if !ok {
		return fmt.Errorf("%w: role %q is not read, write or admin", ErrConfig, roleName)
	}
	var patterns []string
	for _, pat := range strings.Split(list, ",") {
		if err := checkPattern(pat); err != nil {
			return err
		}
		patterns = append(patterns, pat)
	}
	digest := sha256.Sum256([]byte(token))
	if t.byDigest == nil {
		t.byDigest = make(map[[sha256.Size]byte]*Principal)
	}
	if _, dup := t.byDigest[digest]; dup {
		return fmt.Errorf("%w: the same token is configured twice", ErrConfig)
	}
	t.byDigest[digest] = &Principal{
		ID:       hex.EncodeToString(digest[:8]),
		Role:     role,
		patterns: patterns,
		token:    []byte(token),
	}
	return nil
}

// checkPattern validates one namespace pattern: `*`, a namespace as the wire
// spells it (`~` or a name), or a non-empty name prefix ending in `*`.
func checkPattern(pat string) error {
	if pat == "" {
		return fmt.Errorf("%w: empty namespace pattern", ErrConfig)
	}
	if pat == "*" {
		return nil
	}
	ns, prefix := strings.CutSuffix(pat, "*")
	if _, err := cache.ParseNamespace(ns); err != nil || prefix && ns == cache.DefaultNamespace {
		return fmt.Errorf("%w: namespace pattern %q: want `*` (every namespace), `~` (the empty namespace), "+
			"a namespace name, or a name prefix ending in `*`; names are %s", ErrConfig, pat, cache.NamespaceGrammar)
	}
	return nil
}

// isB64Token checks RFC 6750's b64token grammar, so a token always fits an
// Authorization header unchanged.
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// Authenticate returns the principal of an Authorization header value
// ("Bearer <token>", scheme case-insensitive): ErrNoToken when it holds no
// bearer token, ErrBadToken when the token is not configured.
func (t *Tokens) Authenticate(authorization string) (*Principal, error) {
	const scheme = "bearer "
	if len(authorization) <= len(scheme) || !strings.EqualFold(authorization[:len(scheme)], scheme) {
		return nil, ErrNoToken
	}
	token := strings.TrimLeft(authorization[len(scheme):], " ")
	if token == "" {
		return nil, ErrNoToken
	}
	p := t.byDigest[sha256.Sum256([]byte(token))]
	// The digest lookup already matched; the constant-time comparison makes
	// the decision independent of a digest collision and of timing.
	if p == nil || subtle.ConstantTimeCompare(p.token, []byte(token)) != 1 {
		return nil, ErrBadToken
	}
	return p, nil
}
