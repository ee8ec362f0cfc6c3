// Package redisstore is a cache.Store kept in Redis or Valkey, so several
// memcached-http nodes can share one cache.
//
// An item is one Redis string (item.go). Every write runs as one Lua script
// on the server (EVALSHA, falling back to EVAL after a restart emptied the
// script cache), so add/replace/cas checks, delete locks, incr/decr and the
// item accounting are atomic across nodes; a single set is one SET and a
// read of the generation (plainset.go). A plain read is two commands in one
// round trip, no script. The bookkeeping
// of reads (hit and miss counts, access time, idle TTL renewal) and of sets
// (the item accounting) is batched in the process and written every
// Options.SyncInterval (books.go).
// Time always comes from Options.Clock: scripts receive `now` and
// absolute expiry times computed with cache.ExpiresAt, and Redis' own key
// expiry (PEXPIRE, Options.ExpirySlack later than the item's expiry) only
// reclaims memory. Multi operations are pipelined: one round trip per call,
// one per node on a cluster.
//
// The client is rueidis, chosen on measurement: on the same Lua get/put/incr
// script against a local redis-server (16 goroutines on 2 cores) it took
// 6.9/5.9/5.6 µs per op against go-redis v9's 12.3/10.7/9.6 µs, with 1
// allocation per op instead of 14-38, thanks to its automatic pipelining.
//
// Cluster: items are spread over Options.ClusterBuckets hash tags, not one
// tag per namespace, so no namespace is pinned to one node (see layout).
// A script may only touch keys of one slot, so CAS ids come from a counter
// per bucket (one global counter against a single server): id = count ×
// buckets + bucket, unique across buckets. Sets take their counts in blocks
// (plainset.go), so ids are unique but not in the order of the writes.
//
// URLs: redis://[user:password@]host:port[/db], rediss://… for TLS (also
// valkey:// and valkeys://). A cluster is detected by itself; more seed nodes
// go in addr parameters: redis://host1:port?addr=host2:port&addr=host3:port.
//
// Stats: hits, misses and byte_hits are counted by the scripts, and for
// plain reads in the process until the next sync, which comes before this
// process answers Stats; other processes' counts arrive within their
// SyncInterval. items and bytes are kept exact by the scripts as items are written, deleted and
// expire by the injected clock (Stats sweeps expired items first). They drift
// only when Redis removes keys itself (maxmemory eviction, or an item
// untouched for longer than ExpirySlack past its expiry): Stats repairs the
// drift it finds while looking for the least recently accessed item, and
// FlushAll resets it.
//
// Eviction: every item and lock key carries a TTL (its expiry plus
// ExpirySlack, or IdleTTL renewed on access for items that never expire) and
// the bookkeeping keys carry none. Run Redis with maxmemory-policy
// volatile-lru (or volatile-ttl) so that memory pressure evicts items only;
// an allkeys-* policy may evict a bucket's bookkeeping, which resets its
// stats and its CAS counter, and then a stale CAS id could match again.
package redisstore

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// Defaults of Options.
const (
	// DefaultMaxValueSize is the value limit: 1 MiB, as the embedded store.
	DefaultMaxValueSize = 1 << 20
	// DefaultKeyPrefix starts every key the store writes.
	DefaultKeyPrefix = "mchttp:"
	// DefaultDialTimeout bounds a connection attempt, so a dead server fails fast.
	DefaultDialTimeout = 500 * time.Millisecond
	// DefaultOpTimeout bounds one operation, so a hung server fails fast.
	DefaultOpTimeout = time.Second
	// DefaultExpirySlack is how long Redis keeps a key past the item's expiry.
	DefaultExpirySlack = time.Minute
	// DefaultClusterBuckets spreads items over enough slots for large clusters.
	DefaultClusterBuckets = 1024
	// DefaultIdleTTL is the Redis TTL of never-expiring items, renewed on access.
	DefaultIdleTTL = 30 * 24 * time.Hour
	// DefaultSyncInterval is how often batched read bookkeeping goes to Redis.
	DefaultSyncInterval = time.Second
	// DefaultFlushDelay is how long a connection's writer gathers concurrent
	// calls after a write. Under wrk at 64 connections (server and Redis on
	// one core), 200 µs took a GET over Redis from 14.9-16.4 k to 19.2-24.8 k
	// requests/s and its CPU per request (server + Redis) from 59-66 to
	// 40-51 µs, a set from 12.4-12.6 k to 15.0-15.4 k; 50 µs gained less,
	// 500 µs and 1 ms no more. Without it nearly every call was a write and
	// a read system call of its own (1.98 writes per HTTP GET).
	DefaultFlushDelay = 200 * time.Microsecond
	// DefaultTouchInterval is how often, at most, the periodic sync writes
	// one item's access time: memcached itself moves an item in its LRU at
	// most once a minute (ITEM_UPDATE_INTERVAL).
	DefaultTouchInterval = time.Minute
)

// Options configure a Store; zero fields take the defaults above.
type Options struct {
	Clock        func() time.Time // source of every time decision (default time.Now)
	MaxValueSize int              // largest value in bytes (default 1 MiB)
	// KeyPrefix starts every Redis key the store writes, so it can share a
	// server with other data; it must not contain '{' or '}'.
	KeyPrefix   string
	DialTimeout time.Duration // bound on connecting to a node
	// OpTimeout bounds how long a call waits on a server that stopped
	// answering: a connection that gets no reply for that long is closed
	// and the calls waiting on it fail as unavailable, while calls on a
	// connection that is still answering wait their turn. Item operations
	// rely on that alone; the rare ones (Stats, Counts, FlushAll, List,
	// Ping, the periodic sync), which take several round trips, also give
	// each round trip that deadline.
	OpTimeout time.Duration
	// ExpirySlack is how long after an item's expiry Redis keeps its key; it
	// covers the skew between Options.Clock and the server's clock.
	ExpirySlack time.Duration
	// IdleTTL is the Redis TTL of items that never expire, renewed whenever
	// they are read or written. It gives every item key a TTL, so a Redis
	// running maxmemory-policy volatile-lru evicts items and never the
	// store's counters; an item left unread for IdleTTL is dropped, as an
	// eviction would drop it. A read renews the TTL once an eighth of it has
	// passed since it was last set, so "unread for IdleTTL" may come up to
	// an eighth early; renewing on every read cost Redis a command per read.
	IdleTTL time.Duration
	// SyncInterval is how often the bookkeeping of plain reads (hits,
	// misses, byte_hits, access times, idle TTL renewals) batched in this
	// process is written to Redis. Stats and Counts sync first, so they are
	// exact for this process; other processes' reads show within their
	// interval.
	SyncInterval time.Duration
	// FlushDelay is how long, at most, a connection's writer waits after a
	// write for other calls in flight to send together (rueidis'
	// MaxFlushDelay): fewer system calls and Redis reads per call under
	// concurrency. A lone call never waits; with several in flight one may
	// wait up to FlushDelay. Negative: no wait.
	FlushDelay time.Duration
	// TouchInterval is how often, at most, the periodic sync writes one
	// item's access time to Redis: an item read or written again within
	// the interval after its access time was written keeps the newer access
	// in the process until the interval is over, or until this process
	// answers Stats or Counts (which write every access first). This
	// process's own oldest_item_age and idle times stay exact; other
	// processes see an item's access time up to TouchInterval old. Each
	// write of an access time cost Redis a sorted-set update, which under
	// load was the larger part of its CPU per GET. Negative: every sync
	// writes every access.
	TouchInterval time.Duration
	// TLSConfig replaces the default TLS settings (system roots, server name
	// from the URL) of a rediss:// URL, e.g. to trust a private CA.
	TLSConfig *tls.Config
	// ClusterBuckets is how many hash tags items spread over on a cluster.
	// Every node sharing the cache must use the same value.
	ClusterBuckets int

	// syncTick replaces the SyncInterval ticker and synced is called after
	// each sync of the loop, so tests drive the loop without sleeping.
	syncTick <-chan time.Time
	synced   func()
	// markedLate is called when a read marks a value hit-before in a round
	// trip of its own, so a test can tell it from a mark sent with the read.
	markedLate func()
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.ExpirySlack <= 0 {
		o.ExpirySlack = DefaultExpirySlack
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	if o.ClusterBuckets <= 0 {
		o.ClusterBuckets = DefaultClusterBuckets
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.FlushDelay == 0 {
		o.FlushDelay = DefaultFlushDelay
	}
	if o.TouchInterval == 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	return o
}

// Store is a cache.Store backed by Redis, safe for concurrent use.
type Store struct {
	client rueidis.Client
	lay    layout
	opts   Options
	// idleTTL is Options.IdleTTL in milliseconds, as scripts take it.
	idleTTL string
	// renewAfter is the age (s) at which a read renews an idle TTL.
	renewAfter int64

	pend []*pending  // per bucket: bookkeeping not yet in Redis
	cas  []*casBlock // per bucket: CAS counts reserved for plain sets
	gens []bucketGen // per bucket: the generation last seen
	prn  *pruner     // where pruning of evicted items' entries stands
	// syncWrote: the last sync sent something (the loop then prunes).
	syncWrote atomic.Bool
	syncMu    sync.Mutex // serializes Sync, so one that returns has sent all taken before it
	// The sync loop: kick wakes it early, stop ends it, loopDone says it has.
	kick      chan struct{}
	stop      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
}

var (
	_ cache.Store     = (*Store)(nil)
	_ cache.Monitored = (*Store)(nil)
)

// script is a Lua source and its SHA-1 for EVALSHA.
type script struct {
	src, sha string
}

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

var (
	markLua   = newScript(markScript)
	syncLua   = newScript(syncScript)
	putLua    = newScript(putScript)
	deleteLua = newScript(deleteScript)
	offsetLua = newScript(offsetScript)
	statsLua  = newScript(statsScript)
	flushLua  = newScript(flushScript)
	reapLua   = newScript(reapScript)
	pruneLua  = newScript(pruneScript)
	casLua    = newScript(casBlockScript)
)

// Open connects to the Redis server or cluster at url.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redisstore: %w: key prefix %q must not contain '{' or '}'", cache.ErrInvalidArgument, opts.KeyPrefix)
	}
	copt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w: %w", cache.ErrInvalidArgument, err)
	}
	if opts.TLSConfig != nil {
		if copt.TLSConfig == nil {
			return nil, fmt.Errorf("redisstore: %w: TLS settings given for a URL without TLS; use rediss://", cache.ErrInvalidArgument)
		}
		conf := opts.TLSConfig.Clone()
		if conf.ServerName == "" {
			conf.ServerName = copt.TLSConfig.ServerName
		}
		copt.TLSConfig = conf
	}
	copt.DisableCache = true // no client-side caching: every read must see other nodes' writes
	copt.Dialer.Timeout = opts.DialTimeout
	// OpTimeout bounds a call against a Redis that stops answering through
	// the connection, not with a timer per call: a connection with no reply
	// for a sixth of OpTimeout is pinged at the next sixth, and one whose
	// ping goes unanswered for two thirds of it is closed, failing every
	// call waiting on it, so no call waits on a hung server for longer than
	// OpTimeout. A caller's cancel still ends the wait at once. The context
	// with a deadline that every call made cost 6 % of the process's CPU
	// per GET under wrk (its timer, and registering with the request's
	// context); without it a capped GET over Redis served 1.16x the
	// requests (BENCHMARKS.md, "The round of 2026-12-03, later").
	copt.ConnWriteTimeout = opts.OpTimeout * 2 / 3
	copt.Dialer.KeepAlive = opts.OpTimeout / 6
	copt.RetryDelay = retryDelay
	// Every call goes through the pipeline, where a canceled context ends
	// the wait at once. Otherwise a lone call is written and read in place
	// until its deadline, so a request whose client went away kept its
	// handler waiting on a hung server for the whole OpTimeout. Under load
	// calls queue in the pipeline anyway, so this costs nothing there.
	copt.AlwaysPipelining = true
	copt.MaxFlushDelay = max(opts.FlushDelay, 0)
	client, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect: %w: %w", cache.ErrUnavailable, err)
	}
	buckets := 1
	if client.Mode() == rueidis.ClientModeCluster {
		buckets = opts.ClusterBuckets
	}
	s := &Store{
		client:     client,
		opts:       opts,
		lay:        newLayout(opts.KeyPrefix, buckets),
		idleTTL:    strconv.FormatInt(opts.IdleTTL.Milliseconds(), 10),
		renewAfter: int64(opts.IdleTTL / 8 / time.Second),
		pend:       make([]*pending, buckets),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		loopDone:   make(chan struct{}),
	}
	s.cas, s.gens = make([]*casBlock, buckets), make([]bucketGen, buckets)
	s.prn = newPruner(buckets)
	for b := range s.pend {
		s.pend[b] = &pending{gen: -1}
		s.cas[b] = &casBlock{}
		s.gens[b].Store(-1)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.OpTimeout)
	defer cancel()
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		client.Close()
		return nil, s.fail("ping", err)
	}
	if err := s.loadGens(ctx); err != nil {
		client.Close()
		return nil, err
	}
	go s.syncLoop()
	return s, nil
}

// Close writes what is pending (Sync) and releases the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.loopDone
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.OpTimeout)
		err = s.Sync(ctx)
		cancel()
		s.client.Close()
	})
	return err
}

// maxRetries is how many times a read whose connection broke is sent again.
const maxRetries = 3

// retryDelay says when rueidis sends a read again whose connection broke
// (or a node that was loading or failing over refused): soon, a few times,
// and never after a timeout. With no deadline per call (see Open) rueidis
// would retry until the call's context ended; a server that stopped
// answering is not waited for twice.
func retryDelay(attempts int, _ rueidis.Completed, err error) time.Duration {
	if attempts > maxRetries || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return -1
	}
	return time.Duration(attempts) * time.Millisecond
}

// call is one script execution.
type call struct {
	keys, args []string
}

// evalsha is the EVALSHA of sc for call c.
func (s *Store) evalsha(sc script, c call) rueidis.Completed {
	return s.client.B().Evalsha().Sha1(sc.sha).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build()
}

// eval runs sc once per call in one pipeline. EVALSHA that fail because the
// server lost its script cache (restart, failover) are sent again as EVAL;
// they did not run, so resending cannot apply a write twice.
func (s *Store) eval(ctx context.Context, sc script, calls []call) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(calls))
	for i, c := range calls {
		cmds[i] = s.evalsha(sc, c)
	}
	res := s.client.DoMulti(ctx, cmds...)
	var again []int
	for i, r := range res {
		if rerr, ok := rueidis.IsRedisErr(r.Error()); ok && rerr.IsNoScript() {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return res
	}
	cmds = cmds[:0]
	for _, i := range again {
		c := calls[i]
		cmds = append(cmds, s.client.B().Eval().Script(sc.src).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build())
	}
	for j, r := range s.client.DoMulti(ctx, cmds...) {
		res[again[j]] = r
	}
	return res
}

// fail wraps an error of the Redis client. Anything that says the backend
// cannot serve now (network, timeout, node loading or failing over) wraps
// cache.ErrUnavailable; other server errors are bugs and stay plain. A call
// canceled by its caller (a client that went away) says nothing about the
// backend: it keeps context.Canceled and is not ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		code, _, _ := strings.Cut(rerr.Error(), " ")
		switch code {
		case "LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS", "MOVED", "ASK":
		default:
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, cache.ErrUnavailable, err)
}

// clock reads the injected clock once per operation.
func (s *Store) clock() (now time.Time, ms, sec string) {
	now = s.opts.Clock()
	return now, strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Unix(), 10)
}

// checkKeys rejects keys that were not built with cache.NewKey, whose names
// could otherwise escape their namespace in the Redis key layout.
func checkKeys(keys ...cache.Key) error {
	for _, k := range keys {
		if k.Namespace == "" {
			return fmt.Errorf("%w: key %q has no namespace; build keys with cache.NewKey", cache.ErrInvalidArgument, k.Name)
		}
		if _, err := cache.NewBinaryKey(k.Namespace, k.Name); err != nil {
			return err
		}
	}
	return nil
}

// itemCall builds the keys and common arguments of a script on key k.
func (s *Store) itemCall(k cache.Key, ms, sec string, extra ...string) call {
	b := s.lay.bucket(k)
	name := itemName(k)
	ipfx := s.lay.itemPrefix(b)
	keys := make([]string, 0, 5)
	keys = append(append(keys, ipfx+name), s.lay.bookkeeping(b)...)
	args := make([]string, 0, 4+len(extra))
	args = append(append(args, ms, sec, ipfx, name), extra...)
	return call{keys: keys, args: args}
}

// redisTTL is how long Redis keeps a key that expires (by the injected
// clock) at Unix second exp: until then plus the slack. A key that never
// expires gets the idle TTL, renewed on every access.
func (s *Store) redisTTL(now time.Time, exp int64) string {
	if exp == 0 {
		return s.idleTTL
	}
	ttl := time.Unix(exp, 0).Sub(now) + s.opts.ExpirySlack
	return strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
}

// found is what a plain read found for one key.
type found struct {
	hit bool
	str [5]string // value, kind, flags, cas, expires
}

// lookup reads keys with plain commands: per key, GET of the item string,
// then HGET of its bucket's generation, the two in one pipeline with every
// other key's, and decides in Go what a get script decided in Lua before
// (generation, delete lock, expiry by the injected clock). The item is
// read before the generation: the generation only grows, so an item whose
// generation equals the one read after it was live when it was read, and a
// FlushAll in between reads as a miss, as if it came first. The counts,
// the access time and a due idle TTL renewal go to the pending bookkeeping
// (books.go); a hit on a value nobody had read sets its hit-before mark at
// once (markScript), so the meta protocol's h flag stays exact. For a value
// this process wrote with a plain set, whose header it knows unread
// (pending.unread), the mark goes in the same pipeline, after the GET; for
// any other it takes a second round trip. Under wrk, a GET row right after
// a SET row over the same 10 k keys pays it on about one GET in six;
// sending the mark with the read took server and Redis CPU per GET from
// 40.8 to 38.7 µs (medians of six interleaved rounds, 1.07× requests/s).
//
// A script did it all in one round trip for 14 µs of Redis time per read
// (INFO commandstats in BenchmarkRedisStore), nine redis.calls at about
// 0.6 µs each besides the commands' work. The two commands take about
// 2 µs, and GET of one string less than HMGET of the nine fields a hash
// item had.
func (s *Store) lookup(ctx context.Context, keys []cache.Key) ([]found, error) {
	now := s.opts.Clock()
	nowMS, nows := now.UnixMilli(), now.Unix()
	cmds := make(rueidis.Commands, 0, 2*len(keys))
	items := make([]string, len(keys)) // each item's key; its name is the part after the prefix
	var unread []string                // per key, the header of the value marked with the read, if any
	for i, k := range keys {
		b := s.lay.bucket(k)
		var name string
		items[i], name = s.lay.itemKey(b, k)
		cmds = append(cmds,
			s.client.B().Get().Key(items[i]).Build(),
			s.client.B().Hget().Key(s.lay.bookkeeping(b)[0]).Field("g").Build())
		if header := s.pend[b].takeUnread(name); header != "" {
			if unread == nil {
				unread = make([]string, len(keys))
			}
			unread[i] = header
		}
	}
	// The marks go after every GET, each key's after its own, in key order.
	for i, header := range unread {
		if header != "" {
			cmds = append(cmds, s.evalsha(markLua, call{keys: []string{items[i]}, args: []string{header, markedHeader(header)}}))
		}
	}
	res := s.client.DoMulti(ctx, cmds...)
	marksSent := res[2*len(keys):]
	for i, header := range unread {
		if header != "" {
			if n, err := marksSent[0].AsInt64(); err != nil || n != 1 {
				unread[i] = "" // not marked (NOSCRIPT, or rewritten since): marked below as any other
			}
			marksSent = marksSent[1:]
		}
	}
	out := make([]found, len(keys))
	gens := make([]int64, len(keys))
	renew := make([]bool, len(keys))
	var marks []call
	var marked []int
	for i, k := range keys {
		blob, err := res[2*i].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, s.fail("get", err)
		}
		present := err == nil
		gen, err := res[2*i+1].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, s.fail("get", err)
		}
		if gen == "" {
			gen = "0"
		}
		b := s.lay.bucket(k)
		gens[i] = parseGen(gen)
		s.seeGenRead(b, gens[i], rueidis.IsRedisNil(err))
		if !present {
			continue
		}
		h, value, err := parseItem(blob)
		if err != nil {
			return nil, fmt.Errorf("redisstore: get %q: %w", k.Name, err)
		}
		if h.gen != gen || h.lock != "" {
			continue // flushed, or a delete lock (live or not)
		}
		exp, err := strconv.ParseInt(h.exp, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: get: malformed expiry: %w", err)
		}
		if exp != 0 && nowMS >= exp*1000 {
			continue
		}
		// The fields are substrings of the item string: the cas, which the
		// pending bookkeeping keeps until the sync, is copied so that it
		// does not keep a value of up to a MiB alive with it.
		out[i] = found{hit: true, str: [5]string{value, h.kind, h.flags, strings.Clone(h.cas), h.exp}}
		if exp == 0 {
			set, _ := strconv.ParseInt(h.renewed, 10, 64) // empty: never set by a read or put, so due
			renew[i] = nows-set >= s.renewAfter
		}
		// The mark sent with the read ran after the GET and marked the
		// version predicted, if the item still held it: that is the version
		// read if the header read is the one predicted; any other version
		// read is marked here, in a round trip of its own.
		header := blob[:len(blob)-len(value)]
		sentMark := unread != nil && unread[i] == header
		if !strings.Contains(h.marks, "h") && !sentMark {
			marks = append(marks, call{keys: []string{items[i]}, args: []string{header, markedHeader(header)}})
			marked = append(marked, i)
		}
	}
	if len(marks) > 0 && s.opts.markedLate != nil {
		s.opts.markedLate()
	}
	for j, r := range s.eval(ctx, markLua, marks) {
		if err := r.Error(); err != nil {
			return nil, fmt.Errorf("redisstore: get %q: mark: %w", keys[marked[j]].Name, s.fail("get", err))
		}
	}
	for i, k := range keys {
		bytes := 0
		if out[i].hit {
			bytes = len(k.Name) + len(out[i].str[0])
		}
		b := s.lay.bucket(k)
		s.recordRead(b, gens[i], items[i][len(s.lay.itemPrefix(b)):], out[i].hit, bytes,
			touch{at: nows, cas: out[i].str[3], renew: renew[i]})
	}
	return out, nil
}

// Get returns the live item under key, its value appended to dst[:0].
func (s *Store) Get(ctx context.Context, key cache.Key, dst []byte) (cache.Item, error) {
	if err := checkKeys(key); err != nil {
		return cache.Item{}, fmt.Errorf("redisstore: get: %w", err)
	}
	f, err := s.lookup(ctx, []cache.Key{key})
	if err == nil && !f[0].hit {
		err = cache.ErrNotFound
	}
	var it cache.Item
	if err == nil {
		it, err = decodeItem(f[0].str, dst)
	}
	if err != nil {
		return cache.Item{}, fmt.Errorf("redisstore: get %q: %w", key.Name, err)
	}
	return it, nil
}

// GetMulti returns the live items among keys; misses are absent. Each
// distinct key is looked up, and counted in the stats, once. Each key lives
// in its own bucket, so no one script sees them all: the lookups go out in
// one pipeline and a byte budget (maxBytes > 0) is applied here, copying no
// value once the total would pass it and returning cache.ErrBatchTooLarge.
func (s *Store) GetMulti(ctx context.Context, keys []cache.Key, maxBytes int) (map[cache.Key]cache.Item, error) {
	if err := checkKeys(keys...); err != nil {
		return nil, fmt.Errorf("redisstore: get_multi: %w", err)
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("redisstore: get_multi: %w: byte budget %d is negative", cache.ErrInvalidArgument, maxBytes)
	}
	room := maxBytes
	if room == 0 {
		room = math.MaxInt
	}
	uniq := make([]cache.Key, 0, len(keys))
	seen := make(map[cache.Key]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		uniq = append(uniq, k)
	}
	res, err := s.lookup(ctx, uniq)
	if err != nil {
		return nil, fmt.Errorf("redisstore: get_multi: %w", err)
	}
	items := make(map[cache.Key]cache.Item, len(uniq))
	for i, f := range res {
		switch {
		case !f.hit:
			continue
		case len(f.str[0]) > room:
			return nil, fmt.Errorf("redisstore: get_multi: %d keys over a budget of %d value bytes: %w", len(keys), maxBytes, cache.ErrBatchTooLarge)
		}
		it, err := decodeItem(f.str, nil)
		if err != nil {
			return nil, fmt.Errorf("redisstore: get_multi: %w", err)
		}
		items[uniq[i]] = it
		room -= len(it.Value)
	}
	return items, nil
}

// decodeItem parses an item's value, kind, flags, cas and expiry, the value appended to dst[:0].
func decodeItem(str [5]string, dst []byte) (cache.Item, error) {
	kind, err1 := strconv.ParseUint(str[1], 10, 8)
	flags, err2 := strconv.ParseUint(str[2], 10, 32)
	cas, err3 := strconv.ParseUint(str[3], 10, 64)
	exp, err4 := strconv.ParseInt(str[4], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return cache.Item{}, fmt.Errorf("redisstore: get: malformed item: %w", err)
	}
	return cache.Item{
		Value:   append(dst[:0], str[0]...),
		Kind:    cache.Kind(kind),
		Flags:   uint32(flags),
		CAS:     cas,
		Expires: exp,
	}, nil
}

// modeNames are the putScript spellings of the write modes.
var modeNames = map[cache.Mode]string{
	cache.ModeSet:     "set",
	cache.ModeAdd:     "add",
	cache.ModeReplace: "replace",
	cache.ModeCAS:     "cas",
}

// checkEntry validates e for mode and returns its expiry (Unix s, 0 = never).
func (s *Store) checkEntry(mode cache.Mode, e cache.Entry, now time.Time) (int64, error) {
	if err := checkKeys(e.Key); err != nil {
		return 0, err
	}
	_, ok := modeNames[mode]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: unknown mode %d", cache.ErrInvalidArgument, mode)
	case e.Kind != cache.KindJSON && e.Kind != cache.KindBytes:
		return 0, fmt.Errorf("%w: unknown kind %d", cache.ErrInvalidArgument, e.Kind)
	case len(e.Value) > s.opts.MaxValueSize:
		return 0, cache.Refuse(cache.ErrValueTooLarge, "%d bytes, at most %d allowed", len(e.Value), s.opts.MaxValueSize)
	}
	return cache.ExpiresAt(now, e.Time)
}

// putCall validates e and builds its putScript call.
func (s *Store) putCall(mode cache.Mode, e cache.Entry, now time.Time, ms, sec string) (call, error) {
	exp, err := s.checkEntry(mode, e, now)
	if err != nil {
		return call{}, err
	}
	name := modeNames[mode]
	b := s.lay.bucket(e.Key)
	return s.itemCall(e.Key, ms, sec,
		strconv.Itoa(len(e.Key.Name)+len(e.Value)),
		name,
		string(e.Value),
		strconv.Itoa(int(e.Kind)),
		strconv.FormatUint(uint64(e.Flags), 10),
		strconv.FormatInt(exp, 10),
		strconv.FormatUint(e.CAS, 10),
		s.redisTTL(now, exp),
		strconv.Itoa(s.lay.buckets),
		strconv.Itoa(b),
	), nil
}

// putResult decodes the reply of putScript and records the write (and the
// access of an overwrite, whose lru update the script left to the sync).
func (s *Store) putResult(res rueidis.RedisResult, c call, now int64) (uint64, error) {
	reply, err := res.ToArray()
	if err != nil {
		return 0, s.fail("put", err)
	}
	if len(reply) == 0 {
		return 0, errors.New("redisstore: put: empty reply")
	}
	n, err := reply[0].AsInt64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redisstore: put: malformed reply: %w", err)
	case n > 0:
		b, _ := strconv.Atoi(c.args[13])
		gen := int64(-1)
		if len(reply) > 1 {
			g, _ := reply[1].ToString()
			gen = parseGen(g)
		}
		cas := uint64(n)
		s.recordWrite(b, gen, c.args[3], touch{at: now, cas: strconv.FormatUint(cas, 10)})
		return cas, nil
	case n == 0:
		return 0, cache.ErrExists
	case n == -1:
		return 0, cache.ErrNotFound
	default:
		return 0, cache.ErrCASMismatch
	}
}

// Put writes e under mode and returns the item's new CAS id.
func (s *Store) Put(ctx context.Context, mode cache.Mode, e cache.Entry) (uint64, error) {
	now := s.opts.Clock()
	if mode == cache.ModeSet {
		exp, err := s.checkEntry(mode, e, now)
		if err != nil {
			return 0, fmt.Errorf("redisstore: put %q: %w", e.Key.Name, err)
		}
		cas, ok, err := s.plainSet(ctx, e, now, exp)
		if err != nil {
			return 0, fmt.Errorf("redisstore: put %q: %w", e.Key.Name, err)
		}
		if ok {
			return cas, nil
		}
	}
	c, err := s.putCall(mode, e, now, strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Unix(), 10))
	if err != nil {
		return 0, fmt.Errorf("redisstore: put %q: %w", e.Key.Name, err)
	}
	cas, err := s.putResult(s.eval(ctx, putLua, []call{c})[0], c, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("redisstore: put %q: %w", e.Key.Name, err)
	}
	return cas, nil
}

// PutMulti validates every entry, then writes them all in one pipeline.
func (s *Store) PutMulti(ctx context.Context, mode cache.Mode, entries []cache.Entry) ([]error, error) {
	now, ms, sec := s.clock()
	calls := make([]call, len(entries))
	for i, e := range entries {
		c, err := s.putCall(mode, e, now, ms, sec)
		if err != nil {
			return nil, fmt.Errorf("redisstore: put_multi %q: %w", e.Key.Name, err)
		}
		calls[i] = c
	}
	errs := make([]error, len(entries))
	for i, res := range s.eval(ctx, putLua, calls) {
		_, err := s.putResult(res, calls[i], now.Unix())
		if err != nil && !isOutcome(err) {
			return nil, fmt.Errorf("redisstore: put_multi: %w", err)
		}
		errs[i] = err
	}
	return errs, nil
}

// isOutcome reports whether err is a per-key storage outcome rather than a
// failure of the whole call.
func isOutcome(err error) bool {
	return errors.Is(err, cache.ErrExists) || errors.Is(err, cache.ErrNotFound) ||
		errors.Is(err, cache.ErrCASMismatch) || errors.Is(err, cache.ErrNotANumber)
}

// deleteCall builds the deleteScript call for key with a lock until lock.
func (s *Store) deleteCall(k cache.Key, now time.Time, ms, sec string, lock int64) call {
	return s.itemCall(k, ms, sec, strconv.FormatInt(lock, 10), s.redisTTL(now, lock))
}

// deleteResult decodes the reply of deleteScript.
func (s *Store) deleteResult(res rueidis.RedisResult) error {
	n, err := res.AsInt64()
	switch {
	case err != nil:
		return s.fail("delete", err)
	case n == 0:
		return cache.ErrNotFound
	default:
		return nil
	}
}

// Delete removes the live item under key and, when seconds > 0, locks the key.
func (s *Store) Delete(ctx context.Context, key cache.Key, seconds float64) error {
	if err := checkKeys(key); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	now, ms, sec := s.clock()
	lock, err := cache.ExpiresAt(now, seconds)
	if err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key.Name, err)
	}
	if err := s.deleteResult(s.eval(ctx, deleteLua, []call{s.deleteCall(key, now, ms, sec, lock)})[0]); err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key.Name, err)
	}
	return nil
}

// DeleteMulti deletes each key in one pipeline; errs[i] is nil or ErrNotFound.
func (s *Store) DeleteMulti(ctx context.Context, keys []cache.Key, seconds float64) ([]error, error) {
	if err := checkKeys(keys...); err != nil {
		return nil, fmt.Errorf("redisstore: delete_multi: %w", err)
	}
	now, ms, sec := s.clock()
	lock, err := cache.ExpiresAt(now, seconds)
	if err != nil {
		return nil, fmt.Errorf("redisstore: delete_multi: %w", err)
	}
	calls := make([]call, len(keys))
	for i, k := range keys {
		calls[i] = s.deleteCall(k, now, ms, sec, lock)
	}
	errs := make([]error, len(keys))
	for i, res := range s.eval(ctx, deleteLua, calls) {
		err := s.deleteResult(res)
		if err != nil && !errors.Is(err, cache.ErrNotFound) {
			return nil, fmt.Errorf("redisstore: delete_multi: %w", err)
		}
		errs[i] = err
	}
	return errs, nil
}

// offsetCall builds the offsetScript call applying d to k.
func (s *Store) offsetCall(k cache.Key, d cache.Delta, initial *uint64, ms, sec string) call {
	init, decr := "", "0"
	if initial != nil {
		init = strconv.FormatUint(*initial, 10)
	}
	if d.Decrement {
		decr = "1"
	}
	return s.itemCall(k, ms, sec,
		strconv.Itoa(len(k.Name)),
		strconv.FormatUint(d.Amount, 10),
		decr,
		init,
		strconv.Itoa(int(createdKind)),
		strconv.Itoa(s.lay.buckets),
		strconv.Itoa(s.lay.bucket(k)),
		s.idleTTL,
	)
}

// createdKind is the kind of an item that incr/decr creates from an
// initial value: a JSON number, as the embedded store makes it.
const createdKind = cache.KindJSON

// offsetResult decodes the reply of offsetScript: {decimal} or {-1|-2}.
func (s *Store) offsetResult(res rueidis.RedisResult) (uint64, error) {
	reply, err := res.ToArray()
	if err != nil {
		return 0, s.fail("offset", err)
	}
	if len(reply) != 1 {
		return 0, fmt.Errorf("redisstore: offset: %d values in reply, want 1", len(reply))
	}
	if str, err := reply[0].ToString(); err == nil {
		v, err := strconv.ParseUint(str, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("redisstore: offset: malformed result: %w", err)
		}
		return v, nil
	}
	code, err := reply[0].AsInt64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redisstore: offset: malformed reply: %w", err)
	case code == -1:
		return 0, cache.ErrNotFound
	default:
		return 0, cache.ErrNotANumber
	}
}

// Offset applies d to the numeric value under key and returns the result.
func (s *Store) Offset(ctx context.Context, key cache.Key, d cache.Delta, initial *uint64) (uint64, error) {
	if err := checkKeys(key); err != nil {
		return 0, fmt.Errorf("redisstore: offset: %w", err)
	}
	_, ms, sec := s.clock()
	v, err := s.offsetResult(s.eval(ctx, offsetLua, []call{s.offsetCall(key, d, initial, ms, sec)})[0])
	if err != nil {
		return 0, fmt.Errorf("redisstore: offset %q: %w", key.Name, err)
	}
	return v, nil
}

// OffsetMulti applies deltas[i] to keys[i] in one pipeline.
func (s *Store) OffsetMulti(ctx context.Context, keys []cache.Key, deltas []cache.Delta, initial *uint64) ([]uint64, []error, error) {
	if len(keys) != len(deltas) {
		return nil, nil, fmt.Errorf("redisstore: offset_multi: %w: %d keys, %d deltas", cache.ErrInvalidArgument, len(keys), len(deltas))
	}
	if err := checkKeys(keys...); err != nil {
		return nil, nil, fmt.Errorf("redisstore: offset_multi: %w", err)
	}
	_, ms, sec := s.clock()
	calls := make([]call, len(keys))
	for i, k := range keys {
		calls[i] = s.offsetCall(k, deltas[i], initial, ms, sec)
	}
	values := make([]uint64, len(keys))
	errs := make([]error, len(keys))
	for i, res := range s.eval(ctx, offsetLua, calls) {
		v, err := s.offsetResult(res)
		if err != nil && !isOutcome(err) {
			return nil, nil, fmt.Errorf("redisstore: offset_multi: %w", err)
		}
		values[i], errs[i] = v, err
	}
	return values, errs, nil
}

// bucketCalls builds one call per bucket of a bookkeeping script.
func (s *Store) bucketCalls(args ...string) []call {
	calls := make([]call, s.lay.buckets)
	for b := range calls {
		calls[b] = call{keys: s.lay.bookkeeping(b), args: append(args[:len(args):len(args)], s.lay.itemPrefix(b))}
	}
	return calls
}

// Stats sums the counters of every bucket, after a Sync.
func (s *Store) Stats(ctx context.Context) (cache.Stats, error) {
	if err := s.syncFor(ctx); err != nil {
		return cache.Stats{}, fmt.Errorf("redisstore: stats: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	now, ms, sec := s.clock()
	var st cache.Stats
	oldest := int64(-1)
	for _, res := range s.eval(ctx, statsLua, s.bucketCalls(ms, sec)) {
		reply, err := res.ToArray()
		if err != nil {
			return cache.Stats{}, s.fail("stats", err)
		}
		if len(reply) != 6 {
			return cache.Stats{}, fmt.Errorf("redisstore: stats: %d values in reply, want 6", len(reply))
		}
		var v [6]int64
		for i := range v {
			str, err := reply[i].ToString()
			if err == nil {
				v[i], err = strconv.ParseInt(str, 10, 64)
			}
			if err != nil {
				return cache.Stats{}, fmt.Errorf("redisstore: stats: malformed counter %d: %w", i, err)
			}
		}
		st.Hits += uint64(v[0])
		st.Misses += uint64(v[1])
		st.ByteHits += uint64(v[2])
		st.Items += uint64(v[3])
		st.Bytes += uint64(v[4])
		if v[5] >= 0 && (oldest < 0 || v[5] < oldest) {
			oldest = v[5]
		}
	}
	if oldest >= 0 {
		st.OldestItemAge = max(now.Unix()-oldest, 0)
	}
	return st, nil
}

// Ping asks one node for PONG: the readiness probe's whole cost.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Ping().Build()).Error(); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Counts reads the counters the scripts keep in each bucket's meta hash:
// one HMGET per bucket (one against a single server, pipelined per node on
// a cluster), touching no item, unlike Stats, which sweeps and repairs. It
// syncs first, so this process's own reads are in the counts.
func (s *Store) Counts(ctx context.Context) (cache.Counts, error) {
	if err := s.syncFor(ctx); err != nil {
		return cache.Counts{}, fmt.Errorf("redisstore: counts: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	cmds := make(rueidis.Commands, s.lay.buckets)
	for b := range cmds {
		cmds[b] = s.client.B().Hmget().Key(s.lay.bookkeeping(b)[0]).Field("hits", "misses", "bh", "items", "bytes").Build()
	}
	var c cache.Counts
	for _, res := range s.client.DoMulti(ctx, cmds...) {
		reply, err := res.ToArray()
		if err != nil {
			return cache.Counts{}, s.fail("counts", err)
		}
		var v [5]uint64
		for i := range min(len(reply), len(v)) {
			if reply[i].IsNil() {
				continue // a bucket no script has written yet
			}
			n, err := reply[i].AsInt64()
			if err != nil {
				return cache.Counts{}, fmt.Errorf("redisstore: counts: malformed counter %d: %w", i, err)
			}
			v[i] = uint64(max(n, 0)) // drift below zero reads as none
		}
		c.Hits += v[0]
		c.Misses += v[1]
		c.ByteHits += v[2]
		c.Items += v[3]
		c.Bytes += v[4]
	}
	return c, nil
}

// FlushAll starts a new generation in every bucket, which hides every item
// and lock at once and resets the stats, then unlinks the hidden keys. Only
// keys under the store's prefix are touched. If the cleanup is cut short the
// flush still holds; leftovers stay invisible until Redis expires them, a
// write overwrites them or the next FlushAll unlinks them.
func (s *Store) FlushAll(ctx context.Context) error {
	opCtx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	// What is pending was observed before the flush, which resets it.
	s.discard()
	for _, res := range s.eval(opCtx, flushLua, s.bucketCalls()) {
		if err := res.Error(); err != nil {
			return s.fail("flush_all", err)
		}
	}
	for _, p := range s.pend {
		p.lost.Store(false) // the items of the dropped sets are hidden now
	}
	for _, node := range s.client.Nodes() {
		if err := s.reap(ctx, node); err != nil {
			return err
		}
	}
	return nil
}

// reap unlinks the keys of older generations found on one node.
func (s *Store) reap(ctx context.Context, node rueidis.Client) error {
	pattern := s.lay.itemPattern()
	var cursor uint64
	for {
		opCtx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
		entry, err := node.Do(opCtx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			cancel()
			return s.fail("flush_all: scan", err)
		}
		calls := make([]call, 0, len(entry.Elements))
		for _, key := range entry.Elements {
			if b, ok := s.lay.bucketOf(key); ok {
				calls = append(calls, call{keys: []string{key, s.lay.bookkeeping(b)[0]}})
			}
		}
		for _, res := range s.eval(opCtx, reapLua, calls) {
			if err := res.Error(); err != nil {
				cancel()
				return s.fail("flush_all: unlink", err)
			}
		}
		cancel()
		if cursor = entry.Cursor; cursor == 0 {
			return nil
		}
	}
}
