package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
)

// periodicPace is how long a periodic snapshot rests after each shard,
// relative to the time that shard took: it holds a shard lock and a core
// for at most a fifth of the time, so serving latency stays near normal.
// The snapshot at shutdown, with nothing left to serve, does not rest.
const periodicPace = 4

// snapshotShard is the most a shard holds with periodic snapshots: a
// snapshot holds one shard's lock while it copies that shard, so smaller
// shards keep each wait short (a few milliseconds for 8 MiB).
const snapshotShard = 8 << 20

// snapshotShards is the shard count of the embedded store: with periodic
// snapshots, enough shards that each holds at most snapshotShard bytes
// while still holding the largest item twice; otherwise 0, the engine's
// default.
func snapshotShards(c config) int {
	if c.snapshot == "" || c.snapshotInterval == 0 {
		return 0
	}
	maxItem := int64(cache.ItemOverhead+cache.MaxNamespaceLen+cache.MaxKeyBytes) + int64(c.maxValueSize)
	n := 64 // below this the engine's default is as good
	for n < 1024 && c.memoryLimit/int64(n) > snapshotShard {
		n *= 2
	}
	for n > 1 && c.memoryLimit/int64(n) < 2*maxItem {
		n /= 2
	}
	if n <= 64 {
		return 0
	}
	return n
}

// checkSnapshotFlags refuses -snapshot flags that cannot do what they say.
func checkSnapshotFlags(c config) error {
	switch {
	case c.snapshot == "" && (c.snapshotInterval != 0 || c.snapshotStrict):
		return errors.New("memcached-http: -snapshot-interval and -snapshot-strict need -snapshot FILE")
	case c.snapshot != "" && c.store != "memory":
		return errors.New("memcached-http: -snapshot saves the embedded store, but -store is Redis, whose items already live in Redis and survive a restart of this server: drop -snapshot (use Redis persistence, RDB or AOF, to keep them across a Redis restart)")
	case c.snapshotInterval < 0:
		return errors.New("memcached-http: -snapshot-interval must not be negative")
	}
	return nil
}

// snapshots loads the embedded store from -snapshot at start, saves it
// every -snapshot-interval and once more after the HTTP drain.
type snapshots struct {
	path     string
	interval time.Duration
	strict   bool
	m        *cache.Memory
	logger   *slog.Logger

	loaded  atomic.Bool   // the load has ended: serve the store
	done    chan struct{} // closed when the load has ended, either way
	failed  error         // set before done closes: a strict load failure
	writing sync.Mutex    // one snapshot at a time
	// stop ends the periodic snapshots; stopped closes once they have.
	stop    context.CancelFunc
	stopped chan struct{}
}

// newSnapshots returns the snapshots of -snapshot, or nil without it (whose
// methods then do nothing). The file's directory must exist, so a typo
// fails the start rather than the snapshot at shutdown.
func newSnapshots(c config, store cache.Store, logger *slog.Logger) (*snapshots, error) {
	m, ok := store.(*cache.Memory)
	if c.snapshot == "" || !ok {
		return nil, nil
	}
	dir := filepath.Dir(c.snapshot)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("memcached-http: -snapshot %s: its directory %s does not exist; create it first", c.snapshot, dir)
	}
	return &snapshots{path: c.snapshot, interval: c.snapshotInterval, strict: c.snapshotStrict, m: m, logger: logger,
		done: make(chan struct{}), stopped: make(chan struct{}), stop: func() {}}, nil
}

// handler returns the HTTP handler to serve: until the snapshot is loaded
// the one loading builds, which answers 503, then serving.
func (s *snapshots) handler(serving http.Handler, loading func() http.Handler) http.Handler {
	if s == nil {
		return serving
	}
	return s.gate(serving, loading())
}

// gated returns store as the other protocol faces (the memcached
// listener) must see it: unavailable until the snapshot is loaded.
func (s *snapshots) gated(store cache.Store) cache.Store {
	if s == nil {
		return store
	}
	return &gatedStore{m: s.m, loaded: &s.loaded}
}

// gate serves the loading handler until the load has ended, then serving.
func (s *snapshots) gate(serving, loading http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.loaded.Load() {
			serving.ServeHTTP(w, r)
			return
		}
		loading.ServeHTTP(w, r)
	})
}

// begin loads the snapshot, opens the gate and starts the periodic
// snapshots. The channel it returns closes when the load has ended; then
// failed says whether the server must stop.
func (s *snapshots) begin(ctx context.Context) <-chan struct{} {
	if s == nil {
		return nil
	}
	ctx, s.stop = context.WithCancel(ctx)
	go func() {
		defer close(s.stopped)
		if err := s.load(ctx); err != nil {
			s.failed = err
			close(s.done)
			return
		}
		s.loaded.Store(true)
		close(s.done)
		s.periodic(ctx)
	}()
	return s.done
}

// load restores the snapshot into the store. A missing file starts empty; a
// file that is not an intact snapshot is logged, moved aside and the store
// starts empty, unless -snapshot-strict makes that an error.
func (s *snapshots) load(ctx context.Context) error {
	if err := os.Remove(snapshot.TempPath(s.path)); err == nil {
		s.logger.Warn("snapshot: removed the temporary file of a snapshot that never finished", "file", snapshot.TempPath(s.path))
	}
	st, err := snapshot.Load(ctx, s.m, s.path)
	switch {
	case err == nil:
		s.logger.Info("snapshot loaded", "file", s.path, "items", st.Items, "locks", st.Locks,
			"expired_or_too_large", st.Skipped, "evicted_for_memory_limit", st.Evicted, "bytes", st.Bytes,
			"written", st.Created.UTC().Format(time.RFC3339), "at_shutdown", st.Final, "seconds", st.Duration.Seconds())
		return nil
	case snapshot.IsMissing(err):
		s.logger.Info("snapshot: no file yet, starting empty", "file", s.path)
		return nil
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("memcached-http: snapshot load interrupted: %w", err)
	case !errors.Is(err, snapshot.ErrCorrupt):
		// The file could not be read (permissions, I/O): not the file's
		// fault, so it stays where it is.
		if s.strict {
			return fmt.Errorf("memcached-http: -snapshot-strict: %w", err)
		}
		s.logger.Error("snapshot: cannot read the file, starting empty", "file", s.path, "error", err.Error())
		return nil
	case s.strict:
		return fmt.Errorf("memcached-http: -snapshot-strict: refusing to start: %w", err)
	}
	aside, merr := snapshot.MoveAside(s.path, time.Now())
	if merr != nil {
		s.logger.Error("snapshot: not a valid snapshot, starting empty; moving it aside failed too", "file", s.path, "error", err.Error(), "move_error", merr.Error())
		return nil
	}
	s.logger.Error("snapshot: not a valid snapshot, starting empty", "file", s.path, "error", err.Error(), "moved_to", aside)
	return nil
}

// periodic writes a snapshot every interval until ctx ends.
func (s *snapshots) periodic(ctx context.Context) {
	if s.interval == 0 {
		return
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.write(ctx, false)
		}
	}
}

// write saves the store; final is the snapshot after the drain.
func (s *snapshots) write(ctx context.Context, final bool) error {
	s.writing.Lock()
	defer s.writing.Unlock()
	opts := snapshot.WriteOptions{Final: final}
	if !final {
		opts.Pace = periodicPace
	}
	s.logger.Info("snapshot started", "file", s.path, "at_shutdown", final)
	st, err := snapshot.Write(ctx, s.m, s.path, opts)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.logger.Error("snapshot failed; the previous one is kept", "file", s.path, "error", err.Error())
		}
		return err
	}
	s.logger.Info("snapshot written", "file", s.path, "items", st.Items, "locks", st.Locks, "bytes", st.Bytes,
		"seconds", st.Duration.Seconds(), "max_shard_lock_ms", float64(st.MaxHold.Microseconds())/1000, "at_shutdown", final)
	return nil
}

// finish stops the periodic snapshots and, when the load had ended, writes
// the snapshot of the drained store. When the load had not ended (a signal
// during it) the file on disk is still the one being loaded, and is kept.
func (s *snapshots) finish() error {
	if s == nil {
		return nil
	}
	s.stop()
	<-s.stopped
	if !s.loaded.Load() {
		s.logger.Warn("snapshot: the load had not finished; the file is left as it was", "file", s.path)
		return nil
	}
	if err := s.write(context.Background(), true); err != nil {
		return fmt.Errorf("memcached-http: snapshot at shutdown: %w", err)
	}
	return nil
}

// loadingStore answers every call with ErrUnavailable while the snapshot
// loads, so /readyz and the API say 503 until the store holds it all.
type loadingStore struct{}

var (
	_ cache.Store     = loadingStore{}
	_ cache.Monitored = loadingStore{}
)

var errLoading = fmt.Errorf("%w: loading the snapshot", cache.ErrUnavailable)

func (loadingStore) Get(context.Context, cache.Key, []byte) (cache.Item, error) {
	return cache.Item{}, errLoading
}
func (loadingStore) GetMulti(context.Context, []cache.Key, int) (map[cache.Key]cache.Item, error) {
	return nil, errLoading
}
func (loadingStore) Put(context.Context, cache.Mode, cache.Entry) (uint64, error) {
	return 0, errLoading
}
func (loadingStore) PutMulti(context.Context, cache.Mode, []cache.Entry) ([]error, error) {
	return nil, errLoading
}
func (loadingStore) Delete(context.Context, cache.Key, float64) error { return errLoading }
func (loadingStore) DeleteMulti(context.Context, []cache.Key, float64) ([]error, error) {
	return nil, errLoading
}
func (loadingStore) Offset(context.Context, cache.Key, cache.Delta, *uint64) (uint64, error) {
	return 0, errLoading
}
func (loadingStore) OffsetMulti(context.Context, []cache.Key, []cache.Delta, *uint64) ([]uint64, []error, error) {
	return nil, nil, errLoading
}
func (loadingStore) Fetch(context.Context, cache.Key, cache.FetchOptions, []byte) (cache.Fetched, error) {
	return cache.Fetched{}, errLoading
}
func (loadingStore) Concat(context.Context, cache.Key, []byte, cache.ConcatOptions) (uint64, error) {
	return 0, errLoading
}
func (loadingStore) Invalidate(context.Context, cache.Key, cache.InvalidateOptions) (uint64, error) {
	return 0, errLoading
}
func (loadingStore) ListKeys(context.Context, cache.ListOptions) (cache.KeyPage, error) {
	return cache.KeyPage{}, errLoading
}
func (loadingStore) Namespaces(context.Context, int) ([]cache.NamespaceInfo, bool, error) {
	return nil, false, errLoading
}
func (loadingStore) FlushAll(context.Context) error               { return errLoading }
func (loadingStore) Stats(context.Context) (cache.Stats, error)   { return cache.Stats{}, errLoading }
func (loadingStore) Ping(context.Context) error                   { return errLoading }
func (loadingStore) Counts(context.Context) (cache.Counts, error) { return cache.Counts{}, errLoading }
func (loadingStore) Close() error                                 { return nil }

// gatedStore is the embedded store that answers ErrUnavailable until the
// snapshot is loaded, for faces that call the store directly.
// It names every method rather than embedding the store, so a method the
// Store contract gains cannot slip past the gate: the build fails instead.
type gatedStore struct {
	m      *cache.Memory
	loaded *atomic.Bool
}

var (
	_ cache.Store     = (*gatedStore)(nil)
	_ cache.Monitored = (*gatedStore)(nil)
)

func (g *gatedStore) Get(ctx context.Context, k cache.Key, dst []byte) (cache.Item, error) {
	if !g.loaded.Load() {
		return cache.Item{}, errLoading
	}
	return g.m.Get(ctx, k, dst)
}

func (g *gatedStore) GetMulti(ctx context.Context, keys []cache.Key, maxBytes int) (map[cache.Key]cache.Item, error) {
	if !g.loaded.Load() {
		return nil, errLoading
	}
	return g.m.GetMulti(ctx, keys, maxBytes)
}

func (g *gatedStore) Put(ctx context.Context, mode cache.Mode, e cache.Entry) (uint64, error) {
	if !g.loaded.Load() {
		return 0, errLoading
	}
	return g.m.Put(ctx, mode, e)
}

func (g *gatedStore) PutMulti(ctx context.Context, mode cache.Mode, entries []cache.Entry) ([]error, error) {
	if !g.loaded.Load() {
		return nil, errLoading
	}
	return g.m.PutMulti(ctx, mode, entries)
}

func (g *gatedStore) Delete(ctx context.Context, k cache.Key, seconds float64) error {
	if !g.loaded.Load() {
		return errLoading
	}
	return g.m.Delete(ctx, k, seconds)
}

func (g *gatedStore) DeleteMulti(ctx context.Context, keys []cache.Key, seconds float64) ([]error, error) {
	if !g.loaded.Load() {
		return nil, errLoading
	}
	return g.m.DeleteMulti(ctx, keys, seconds)
}

func (g *gatedStore) Offset(ctx context.Context, k cache.Key, d cache.Delta, initial *uint64) (uint64, error) {
	if !g.loaded.Load() {
		return 0, errLoading
	}
	return g.m.Offset(ctx, k, d, initial)
}

func (g *gatedStore) OffsetMulti(ctx context.Context, keys []cache.Key, deltas []cache.Delta, initial *uint64) ([]uint64, []error, error) {
	if !g.loaded.Load() {
		return nil, nil, errLoading
	}
	return g.m.OffsetMulti(ctx, keys, deltas, initial)
}

func (g *gatedStore) Fetch(ctx context.Context, k cache.Key, opts cache.FetchOptions, dst []byte) (cache.Fetched, error) {
	if !g.loaded.Load() {
		return cache.Fetched{}, errLoading
	}
	return g.m.Fetch(ctx, k, opts, dst)
}

func (g *gatedStore) Concat(ctx context.Context, k cache.Key, value []byte, opts cache.ConcatOptions) (uint64, error) {
	if !g.loaded.Load() {
		return 0, errLoading
	}
	return g.m.Concat(ctx, k, value, opts)
}

func (g *gatedStore) Invalidate(ctx context.Context, k cache.Key, opts cache.InvalidateOptions) (uint64, error) {
	if !g.loaded.Load() {
		return 0, errLoading
	}
	return g.m.Invalidate(ctx, k, opts)
}

func (g *gatedStore) FlushAll(ctx context.Context) error {
	if !g.loaded.Load() {
		return errLoading
	}
	return g.m.FlushAll(ctx)
}

func (g *gatedStore) Stats(ctx context.Context) (cache.Stats, error) {
	if !g.loaded.Load() {
		return cache.Stats{}, errLoading
	}
	return g.m.Stats(ctx)
}

func (g *gatedStore) Ping(ctx context.Context) error {
	if !g.loaded.Load() {
		return errLoading
	}
	return g.m.Ping(ctx)
}

// Close leaves the store open: run closes it.
func (g *gatedStore) Close() error { return nil }

func (g *gatedStore) ListKeys(ctx context.Context, opts cache.ListOptions) (cache.KeyPage, error) {
	if !g.loaded.Load() {
		return cache.KeyPage{}, errLoading
	}
	return g.m.ListKeys(ctx, opts)
}

func (g *gatedStore) Namespaces(ctx context.Context, limit int) ([]cache.NamespaceInfo, bool, error) {
	if !g.loaded.Load() {
		return nil, false, errLoading
	}
	return g.m.Namespaces(ctx, limit)
}

func (g *gatedStore) Counts(ctx context.Context) (cache.Counts, error) {
	if !g.loaded.Load() {
		return cache.Counts{}, errLoading
	}
	return g.m.Counts(ctx)
}

// Counters are the engine's lifetime counters, which the load leaves at 0.
func (g *gatedStore) Counters() cache.Counters { return g.m.Counters() }

// ShardCount is 0 until the snapshot is loaded, so nothing walks a store
// that is still loading (memcached's cachedump).
func (g *gatedStore) ShardCount() int {
	if !g.loaded.Load() {
		return 0
	}
	return g.m.ShardCount()
}

// VisitShard is the store's, once loaded.
func (g *gatedStore) VisitShard(i int, fn func(*cache.Record)) {
	if g.loaded.Load() {
		g.m.VisitShard(i, fn)
	}
}
