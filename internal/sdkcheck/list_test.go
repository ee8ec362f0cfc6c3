package sdkcheck

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/sdk"
)

func TestListKeysPagesAndKeysIterates(t *testing.T) {
	e := newEnv(t)
	for i := range 12 {
		e.set(fmt.Sprintf("user:%02d", i), i, sdk.WithNamespace("team-a"))
	}
	e.set("blob", []byte{1, 2, 3}, sdk.WithNamespace("team-a"), sdk.WithTime(60))
	e.set("elsewhere", 1)

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, err := e.c.ListKeys(e.ctx, "user:", 5, cursor, sdk.WithNamespace("team-a"))
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Keys), 5)
		for _, k := range page.Keys {
			assert.False(t, seen[k.Key], "%s twice", k.Key)
			seen[k.Key] = true
			assert.False(t, k.Bytes)
			assert.NotZero(t, k.CASID)
			assert.True(t, k.Expires.IsZero())
		}
		pages++
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	assert.Len(t, seen, 12)
	assert.GreaterOrEqual(t, pages, 3)

	var all []sdk.KeyInfo
	for k, err := range e.c.Keys(e.ctx, "", sdk.WithNamespace("team-a")) {
		require.NoError(t, err)
		all = append(all, k)
	}
	assert.Len(t, all, 13)
	for _, k := range all {
		if k.Key == "blob" {
			assert.True(t, k.Bytes)
			assert.Equal(t, 3, k.Size)
			assert.Equal(t, time.Unix(cachetest.Start.Unix()+61, 0), k.Expires, "60 s from a fractional start")
		}
	}

	_, err := e.c.ListKeys(e.ctx, "", 1001, "")
	assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "refused before sending")
	_, err = e.c.ListKeys(e.ctx, "", 0, "not-a-cursor")
	var answer *sdk.Error
	require.True(t, errors.As(err, &answer), "%v", err)
	assert.Equal(t, "cursor", answer.Field)
}

func TestNamespacesNamesTheEmptyOneAsEmpty(t *testing.T) {
	e := newEnv(t)
	e.set("a", 1)
	e.set("b", 1, sdk.WithNamespace("default"))
	e.set("c", 1, sdk.WithNamespace("default"))
	nss, truncated, err := e.c.Namespaces(e.ctx)
	require.NoError(t, err)
	assert.False(t, truncated)
	assert.Equal(t, []sdk.NamespaceInfo{{Namespace: "", Items: 1}, {Namespace: "default", Items: 2}}, nss)
}
