package memcached

import (
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// cmdID numbers the commands of commandTable; cmdUnknown counts the rest.
type cmdID int

// cmdUnknown is the counter of command names not in the table (set by init).
var cmdUnknown cmdID

// paddedCounter keeps each per-command counter on its own cache line, so
// connections on different cores counting different commands do not
// contend.
type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

// Stats are the listener's counters: memcached's own names, plus one
// counter per command for monitoring.
type Stats struct {
	commands []paddedCounter // by cmdID; the last is unknown commands

	currConns, totalConns    atomic.Int64
	rejected                 atomic.Uint64
	bytesRead, bytesWritten  atomic.Uint64
	getHits, getMisses       atomic.Uint64
	setCmds, flushCmds       atomic.Uint64
	touchCmds                atomic.Uint64
	touchHits, touchMisses   atomic.Uint64
	deleteHits, deleteMisses atomic.Uint64
	incrHits, incrMisses     atomic.Uint64
	decrHits, decrMisses     atomic.Uint64
	casHits, casMisses       atomic.Uint64
	casBadval                atomic.Uint64
	storedItems              atomic.Uint64 // values stored by a storage command (total_items)
	tooLarge, noMemory       atomic.Uint64 // storage commands refused: store_too_large, store_no_memory
	panics                   atomic.Uint64 // connections closed by a bug

	// base is what the counters held at the last "stats reset": the
	// stats command answers the counts since, while /metrics keeps the
	// totals, since a Prometheus counter must not go back.
	base atomic.Pointer[statCounts]
}

// statCounts are the counters "stats reset" starts again from zero, read at
// one moment.
type statCounts struct {
	totalConns, rejected                         uint64
	bytesRead, bytesWritten, getHits, getMisses  uint64
	setCmds, flushCmds, touchCmds                uint64
	touchHits, touchMisses, deleteHits           uint64
	deleteMisses, incrHits, incrMisses, decrHits uint64
	decrMisses, casHits, casMisses, casBadval    uint64
	storedItems, tooLarge, noMemory              uint64
	commands                                     []uint64 // by cmdID
}

func (s *Stats) read() *statCounts {
	n := &statCounts{
		totalConns: uint64(s.totalConns.Load()), rejected: s.rejected.Load(),
		bytesRead: s.bytesRead.Load(), bytesWritten: s.bytesWritten.Load(),
		getHits: s.getHits.Load(), getMisses: s.getMisses.Load(),
		setCmds: s.setCmds.Load(), flushCmds: s.flushCmds.Load(), touchCmds: s.touchCmds.Load(),
		touchHits: s.touchHits.Load(), touchMisses: s.touchMisses.Load(),
		deleteHits: s.deleteHits.Load(), deleteMisses: s.deleteMisses.Load(),
		incrHits: s.incrHits.Load(), incrMisses: s.incrMisses.Load(),
		decrHits: s.decrHits.Load(), decrMisses: s.decrMisses.Load(),
		casHits: s.casHits.Load(), casMisses: s.casMisses.Load(), casBadval: s.casBadval.Load(),
		storedItems: s.storedItems.Load(), tooLarge: s.tooLarge.Load(), noMemory: s.noMemory.Load(),
		commands: make([]uint64, len(s.commands)),
	}
	for i := range s.commands {
		n.commands[i] = s.commands[i].Load()
	}
	return n
}

// reset makes the counters' current values the zero of the stats command.
func (s *Stats) reset() { s.base.Store(s.read()) }

// sinceReset is the counters less what they held at the last reset.
func (s *Stats) sinceReset() *statCounts {
	n := s.read()
	b := s.base.Load()
	if b == nil {
		return n
	}
	sub := func(x *uint64, y uint64) { *x -= min(*x, y) }
	sub(&n.totalConns, b.totalConns)
	sub(&n.rejected, b.rejected)
	sub(&n.bytesRead, b.bytesRead)
	sub(&n.bytesWritten, b.bytesWritten)
	sub(&n.getHits, b.getHits)
	sub(&n.getMisses, b.getMisses)
	sub(&n.setCmds, b.setCmds)
	sub(&n.flushCmds, b.flushCmds)
	sub(&n.touchCmds, b.touchCmds)
	sub(&n.touchHits, b.touchHits)
	sub(&n.touchMisses, b.touchMisses)
	sub(&n.deleteHits, b.deleteHits)
	sub(&n.deleteMisses, b.deleteMisses)
	sub(&n.incrHits, b.incrHits)
	sub(&n.incrMisses, b.incrMisses)
	sub(&n.decrHits, b.decrHits)
	sub(&n.decrMisses, b.decrMisses)
	sub(&n.casHits, b.casHits)
	sub(&n.casMisses, b.casMisses)
	sub(&n.casBadval, b.casBadval)
	sub(&n.storedItems, b.storedItems)
	sub(&n.tooLarge, b.tooLarge)
	sub(&n.noMemory, b.noMemory)
	for i := range n.commands {
		sub(&n.commands[i], b.commands[i])
	}
	return n
}

func newStats() *Stats {
	return &Stats{commands: make([]paddedCounter, cmdUnknown+1)}
}

func (s *Stats) count(id cmdID) { s.commands[id].Add(1) }

func (s *Stats) connOpened() {
	s.currConns.Add(1)
	s.totalConns.Add(1)
}

// stored counts how a storage command (set, add, cas, ms...) came out.
func (s *Stats) stored(o outcome) {
	switch o {
	case outOK:
		s.storedItems.Add(1)
	case outTooLarge:
		s.tooLarge.Add(1)
	case outBusy:
		s.noMemory.Add(1)
	}
}

func (s *Stats) arith(decr, hit bool) {
	switch {
	case decr && hit:
		s.decrHits.Add(1)
	case decr:
		s.decrMisses.Add(1)
	case hit:
		s.incrHits.Add(1)
	default:
		s.incrMisses.Add(1)
	}
}

// Command returns how many times the named command was received
// ("unknown" for names that are no command).
func (s *Stats) Command(name string) uint64 {
	if name == "unknown" {
		return s.commands[cmdUnknown].Load()
	}
	if c, ok := commands[name]; ok {
		return s.commands[c.id].Load()
	}
	return 0
}

var (
	descCommands = prometheus.NewDesc("memcached_http_memcached_commands_total",
		"memcached protocol commands received, by command (unknown: names that are no command).", []string{"command"}, nil)
	descConns = prometheus.NewDesc("memcached_http_memcached_connections",
		"memcached protocol connections open now.", nil, nil)
	descConnsTotal = prometheus.NewDesc("memcached_http_memcached_connections_total",
		"memcached protocol connections accepted.", nil, nil)
	descRejected = prometheus.NewDesc("memcached_http_memcached_rejected_connections_total",
		"memcached protocol connections refused at the connection cap.", nil, nil)
	descPanics = prometheus.NewDesc("memcached_http_memcached_panics_total",
		"memcached protocol connections closed by a server bug (logged).", nil, nil)
	descLookups = prometheus.NewDesc("memcached_http_memcached_get_keys_total",
		"Keys looked up by get, gets, gat and gats, by result.", []string{"result"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommands, descConns, descConnsTotal, descRejected, descPanics, descLookups} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	for i, e := range commandTable {
		ch <- prometheus.MustNewConstMetric(descCommands, prometheus.CounterValue, float64(s.commands[i].Load()), e.name)
	}
	ch <- prometheus.MustNewConstMetric(descCommands, prometheus.CounterValue, float64(s.commands[cmdUnknown].Load()), "unknown")
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(s.currConns.Load()))
	ch <- prometheus.MustNewConstMetric(descConnsTotal, prometheus.CounterValue, float64(s.totalConns.Load()))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(s.rejected.Load()))
	ch <- prometheus.MustNewConstMetric(descPanics, prometheus.CounterValue, float64(s.panics.Load()))
	ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(s.getHits.Load()), "hit")
	ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(s.getMisses.Load()), "miss")
}

// statWriter writes "STAT <name> <value>" lines.
type statWriter struct{ c *conn }

func (w statWriter) str(name, v string) {
	c := w.c
	c.out = append(c.out[:0], "STAT "...)
	c.out = append(c.out, name...)
	c.out = append(c.out, ' ')
	c.out = append(c.out, v...)
	c.out = append(c.out, "\r\n"...)
	c.write(c.out)
}

func (w statWriter) u(name string, v uint64) { w.str(name, strconv.FormatUint(v, 10)) }
func (w statWriter) i(name string, v int64)  { w.str(name, strconv.FormatInt(v, 10)) }

// cmdStats answers "stats [settings|items|slabs|sizes|conns|cachedump <class> <limit>|reset]".
func cmdStats(c *conn, args [][]byte) bool {
	w := statWriter{c}
	sub := ""
	if len(args) > 0 {
		sub = string(args[0])
	}
	switch sub {
	case "":
		c.generalStats(w)
	case "settings":
		c.settingsStats(w)
	case "items":
		c.itemStats(w)
	case "slabs":
		c.slabStats(w)
	case "sizes":
		// memcached tracks sizes only when started with -o track_sizes.
		w.str("sizes_status", "disabled")
	case "conns":
		w.i("curr_connections", c.srv.stats.currConns.Load())
	case "cachedump":
		if len(args) != 3 {
			c.reply("CLIENT_ERROR bad command line")
			return true
		}
		class, ok1 := parseUint64(args[1])
		limit, ok2 := parseUint64(args[2])
		if !ok1 || !ok2 {
			c.reply(errBadFormat)
			return true
		}
		if class == 1 {
			c.write(c.cachedump(int(min(limit, 1<<31))))
		}
	case "reset":
		c.srv.stats.reset()
		c.reply("RESET")
		return true
	case "detail":
		// Per-prefix detail is not collected: on and off change nothing,
		// and a dump is empty.
		switch {
		case len(args) == 2 && (string(args[1]) == "on" || string(args[1]) == "off"):
			c.reply("OK")
			return true
		case len(args) != 2 || string(args[1]) != "dump":
			c.reply("CLIENT_ERROR usage: stats detail on|off|dump")
			return true
		}
	default:
		c.reply("ERROR")
		return true
	}
	c.reply("END")
	return true
}

// counts reads the store's item counts the cheapest way it offers.
func (c *conn) counts() (cache.Counts, bool) {
	if m, ok := c.srv.store.(cache.Monitored); ok {
		n, err := m.Counts(c.srv.ctx)
		return n, err == nil
	}
	st, err := c.srv.store.Stats(c.srv.ctx)
	return cache.Counts{Hits: st.Hits, Misses: st.Misses, ByteHits: st.ByteHits, Items: st.Items, Bytes: st.Bytes}, err == nil
}

func (c *conn) generalStats(w statWriter) {
	s, st := c.srv, c.srv.stats.sinceReset()
	now := s.cfg.Clock()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	w.i("pid", int64(os.Getpid()))
	w.i("uptime", int64(now.Sub(s.started).Seconds()))
	w.i("time", now.Unix())
	w.str("version", Version)
	w.i("pointer_size", strconv.IntSize)
	w.str("rusage_user", strconv.FormatInt(int64(ru.Utime.Sec), 10)+"."+pad6(int64(ru.Utime.Usec)))
	w.str("rusage_system", strconv.FormatInt(int64(ru.Stime.Sec), 10)+"."+pad6(int64(ru.Stime.Usec)))
	w.i("max_connections", int64(s.cfg.MaxConns))
	w.i("curr_connections", s.stats.currConns.Load())
	w.u("total_connections", st.totalConns)
	w.u("rejected_connections", st.rejected)
	w.u("cmd_get", st.getHits+st.getMisses)
	w.u("cmd_set", st.setCmds)
	w.u("cmd_flush", st.flushCmds)
	w.u("cmd_touch", st.touchCmds)
	var meta uint64
	for _, name := range []string{"mg", "ms", "md", "ma", "mn", "me"} {
		meta += st.commands[commands[name].id]
	}
	w.u("cmd_meta", meta)
	w.u("get_hits", st.getHits)
	w.u("get_misses", st.getMisses)
	w.u("delete_misses", st.deleteMisses)
	w.u("delete_hits", st.deleteHits)
	w.u("incr_misses", st.incrMisses)
	w.u("incr_hits", st.incrHits)
	w.u("decr_misses", st.decrMisses)
	w.u("decr_hits", st.decrHits)
	w.u("cas_misses", st.casMisses)
	w.u("cas_hits", st.casHits)
	w.u("cas_badval", st.casBadval)
	w.u("touch_hits", st.touchHits)
	w.u("touch_misses", st.touchMisses)
	w.u("bytes_read", st.bytesRead)
	w.u("bytes_written", st.bytesWritten)
	w.u("total_items", st.storedItems)
	w.u("store_too_large", st.tooLarge)
	w.u("store_no_memory", st.noMemory)
	// The listener refuses connections over -memcached-max-conns one by
	// one (rejected_connections); it never stops accepting or yields.
	w.u("accepting_conns", 1)
	w.u("listen_disabled_num", 0)
	w.u("conn_yields", 0)
	w.i("limit_maxbytes", s.cfg.MemoryLimit)
	w.i("threads", int64(runtime.GOMAXPROCS(0)))
	if n, ok := c.counts(); ok {
		w.u("curr_items", n.Items)
		w.u("bytes", n.Bytes)
		// The store's own lookups, over every protocol.
		w.u("store_hits", n.Hits)
		w.u("store_misses", n.Misses)
	}
	if ec, ok := s.store.(interface{ Counters() cache.Counters }); ok {
		n := ec.Counters()
		w.u("evictions", n.Evictions)
		w.u("expired_unfetched", 0)
		w.u("reclaimed", n.Expirations)
	}
	for i, e := range commandTable {
		w.u("cmd_"+e.name+"_total", st.commands[i])
	}
}

func pad6(n int64) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

func (c *conn) settingsStats(w statWriter) {
	cfg := c.srv.cfg
	w.i("maxbytes", cfg.MemoryLimit)
	w.i("maxconns", int64(cfg.MaxConns))
	w.i("item_size_max", int64(cfg.MaxValueSize))
	w.i("max_line_bytes", int64(cfg.MaxLineBytes))
	w.i("max_pending_bytes", cfg.MaxPendingBytes)
	w.str("namespace", c.srv.ns)
	w.i("idle_timeout", int64(cfg.IdleTimeout.Seconds()))
	w.str("evictions", "on")
	w.str("cas_enabled", "yes")
	w.str("flush_enabled", "yes")
	w.str("binding_protocol", "ascii")
	w.i("num_threads", int64(runtime.GOMAXPROCS(0)))
}

// itemStats reports the whole store as one item class, there being no
// slab classes.
func (c *conn) itemStats(w statWriter) {
	n, ok := c.counts()
	if !ok || n.Items == 0 {
		return
	}
	w.u("items:1:number", n.Items)
	var ev uint64
	if ec, ok := c.srv.store.(interface{ Counters() cache.Counters }); ok {
		ev = ec.Counters().Evictions
	}
	w.u("items:1:evicted", ev)
}

// slabStats reports the whole store as one slab class.
func (c *conn) slabStats(w statWriter) {
	n, ok := c.counts()
	if ok && n.Items > 0 {
		w.u("1:used_chunks", n.Items)
		w.u("1:mem_requested", n.Bytes)
		// Every item is in class 1, so the class's command counts are the
		// listener's (monitoring such as Prometheus's memcached_exporter
		// reads them for each class it lists).
		st := c.srv.stats.sinceReset()
		w.u("1:get_hits", st.getHits)
		w.u("1:cmd_set", st.setCmds)
		w.u("1:delete_hits", st.deleteHits)
		w.u("1:incr_hits", st.incrHits)
		w.u("1:decr_hits", st.decrHits)
		w.u("1:cas_hits", st.casHits)
		w.u("1:cas_badval", st.casBadval)
		w.u("1:touch_hits", st.touchHits)
		w.i("active_slabs", 1)
	} else {
		w.i("active_slabs", 0)
	}
	w.i("total_malloced", c.srv.cfg.MemoryLimit)
}

// visitor is what the embedded store offers for walking its items.
type visitor interface {
	ShardCount() int
	VisitShard(i int, fn func(*cache.Record))
}

// maxDump bounds a cachedump's answer, as memcached bounds it (2 MiB).
const maxDump = 2 << 20

// cachedump lists up to limit items (0: no limit) of the listener's
// namespace, memcached's way: "ITEM <key> [<bytes> b; <expiry> s]", the
// expiry a Unix time, 0 for none. The whole store is slab class 1; a store
// that cannot be walked (Redis) lists nothing. The lines are gathered in
// memory first, so no shard lock waits on the client.
func (c *conn) cachedump(limit int) []byte {
	v, ok := c.srv.store.(visitor)
	if !ok {
		return nil
	}
	var out []byte
	n := 0
	for i := 0; i < v.ShardCount() && (limit == 0 || n < limit) && len(out) < maxDump; i++ {
		v.VisitShard(i, func(r *cache.Record) {
			if r.Lock || string(r.Namespace) != c.srv.ns || (limit != 0 && n >= limit) || len(out) >= maxDump {
				return
			}
			out = append(out, "ITEM "...)
			out = append(out, r.Name...)
			out = append(out, " ["...)
			out = strconv.AppendInt(out, int64(len(r.Value)), 10)
			out = append(out, " b; "...)
			out = strconv.AppendInt(out, r.Expires, 10)
			out = append(out, " s]\r\n"...)
			n++
		})
	}
	return out
}
