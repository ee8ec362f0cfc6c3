package snapshot_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
)

// FuzzLoad feeds the loader arbitrary files, both as they are and wrapped
// as the records of an otherwise valid snapshot (so the bytes get past the
// checksums into the record decoder). It must never panic; it either
// refuses the file as corrupt with the store left empty, or loads records
// that the store then serves and that write and load back unchanged.
func FuzzLoad(f *testing.F) {
	clock := cachetest.NewClock()
	m, err := cache.NewMemory(cache.Options{MemoryLimit: 1 << 22, MaxValueSize: 4096, Shards: 2, Clock: clock.Now})
	require.NoError(f, err)
	for i, e := range []cache.Entry{
		{Value: []byte(`{"a":1}`), Kind: cache.KindJSON},
		{Value: []byte{0, 1, 2}, Kind: cache.KindBytes, Flags: 9, Time: 60},
	} {
		e.Key, _ = cache.NewKey("default", string(rune('a'+i)))
		_, err := m.Put(f.Context(), cache.ModeSet, e)
		require.NoError(f, err)
	}
	path := filepath.Join(f.TempDir(), "s")
	_, err = snapshot.Write(f.Context(), m, path, snapshot.WriteOptions{Final: true})
	require.NoError(f, err)
	valid, err := os.ReadFile(path)
	require.NoError(f, err)
	_ = m.Close()
	f.Add(valid, uint8(0))
	f.Add(valid[:len(valid)/2], uint8(0))
	f.Add([]byte("MCHTSNAP"), uint8(0))
	rec := snapshot.AppendRecord(nil, &cache.Record{Namespace: []byte("default"), Name: []byte("k"), Value: []byte(`"v"`), CAS: 5, Expires: cachetest.Start.Unix() + 10})
	f.Add(rec, uint8(1))
	lock := snapshot.AppendRecord(nil, &cache.Record{Namespace: []byte("ns"), Name: []byte("k"), Lock: true, CAS: 5, Expires: cachetest.Start.Unix() + 10})
	f.Add(append(rec, lock...), uint8(2))

	f.Fuzz(func(t *testing.T, b []byte, records uint8) {
		for _, file := range [][]byte{b, snapshot.Frame(b, uint64(records))} {
			m, err := cache.NewMemory(cache.Options{MemoryLimit: 1 << 22, MaxValueSize: 4096, Shards: 2, Clock: clock.Now})
			require.NoError(t, err)
			st, err := snapshot.LoadBytes(t.Context(), m, file)
			got := dump(m)
			if err != nil {
				require.ErrorIs(t, err, snapshot.ErrCorrupt)
				require.Empty(t, got, "a refused file leaves nothing behind")
				_ = m.Close()
				continue
			}
			again := filepath.Join(t.TempDir(), "again")
			_, err = snapshot.Write(t.Context(), m, again, snapshot.WriteOptions{Final: true})
			require.NoError(t, err)
			m2, err := cache.NewMemory(cache.Options{MemoryLimit: 1 << 22, MaxValueSize: 4096, Shards: 2, Clock: clock.Now})
			require.NoError(t, err)
			_, err = snapshot.Load(t.Context(), m2, again)
			require.NoError(t, err)
			require.Equal(t, got, dump(m2), "what was loaded writes and loads back the same")
			require.LessOrEqual(t, uint64(len(got)), st.Items+st.Locks)
			for k, r := range got {
				if r.lock {
					continue
				}
				ns, name, _ := cut(k)
				key, err := cache.NewBinaryKey(ns, name)
				require.NoError(t, err, "a loaded key is a valid key")
				it, err := m.Get(t.Context(), key, nil)
				require.NoError(t, err)
				require.Equal(t, r.value, string(it.Value))
			}
			_ = m.Close()
			_ = m2.Close()
		}
	})
}

// cut splits a dump key into namespace and name.
func cut(k string) (string, string, bool) {
	for i := range len(k) {
		if k[i] == '/' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}
