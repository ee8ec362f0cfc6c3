package memcached

import (
	"errors"
	"strconv"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// command is one entry of the dispatch table: a command name's counter and
// the function that answers it. run returns false to close the connection.
type command struct {
	id  cmdID
	run func(c *conn, args [][]byte) bool
}

// commandEntry names one command of the dispatch table.
type commandEntry struct {
	name string
	run  func(c *conn, args [][]byte) bool
}

// commandTable is the dispatch table, in the order stats lists the
// per-command counters: the text protocol, then the meta protocol. It is
// filled by init, as its commands read it back for stats.
var commandTable []commandEntry

func textAndMetaCommands() []commandEntry {
	return []commandEntry{
		{"get", func(c *conn, a [][]byte) bool { return c.retrieve(a, false) }},
		{"gets", func(c *conn, a [][]byte) bool { return c.retrieve(a, true) }},
		{"gat", func(c *conn, a [][]byte) bool { return c.getAndTouch(a, false) }},
		{"gats", func(c *conn, a [][]byte) bool { return c.getAndTouch(a, true) }},
		{"set", func(c *conn, a [][]byte) bool { return c.storage(a, opSet) }},
		{"add", func(c *conn, a [][]byte) bool { return c.storage(a, opAdd) }},
		{"replace", func(c *conn, a [][]byte) bool { return c.storage(a, opReplace) }},
		{"append", func(c *conn, a [][]byte) bool { return c.storage(a, opAppend) }},
		{"prepend", func(c *conn, a [][]byte) bool { return c.storage(a, opPrepend) }},
		{"cas", func(c *conn, a [][]byte) bool { return c.storage(a, opCAS) }},
		{"delete", cmdDelete},
		{"incr", func(c *conn, a [][]byte) bool { return c.arithmetic(a, false) }},
		{"decr", func(c *conn, a [][]byte) bool { return c.arithmetic(a, true) }},
		{"touch", cmdTouch},
		{"flush_all", cmdFlushAll},
		{"stats", cmdStats},
		{"cache_memlimit", cmdCacheMemlimit},
		{"version", cmdVersion},
		{"verbosity", cmdVerbosity},
		{"shutdown", cmdShutdown},
		{"quit", func(*conn, [][]byte) bool { return false }},
		{"mg", cmdMetaGet},
		{"ms", cmdMetaSet},
		{"md", cmdMetaDelete},
		{"ma", cmdMetaArithmetic},
		{"mn", cmdMetaNoop},
		{"me", cmdMetaDebug},
	}
}

// commands finds a command by name; built from commandTable.
var commands map[string]command

func init() {
	commandTable = textAndMetaCommands()
	commands = make(map[string]command, len(commandTable))
	for i, e := range commandTable {
		commands[e.name] = command{id: cmdID(i), run: e.run}
	}
	cmdUnknown = cmdID(len(commandTable))
}

const (
	errBadFormat  = "CLIENT_ERROR bad command line format"
	errBadExptime = "CLIENT_ERROR invalid exptime argument"
	errBadDelta   = "CLIENT_ERROR invalid numeric delta argument"
	errBadChunk   = "CLIENT_ERROR bad data chunk"
)

var crlf = []byte("\r\n")

// maxRetainedValue caps the value buffer a connection keeps between
// commands, so idle connections do not pin large values.
const maxRetainedValue = 64 << 10

// noreplyAt sets c.noreply when args[i] is "noreply".
func (c *conn) noreplyAt(args [][]byte, i int) {
	if i >= 0 && i < len(args) && string(args[i]) == "noreply" {
		c.noreply = true
	}
}

// retrieve answers get and gets: a VALUE block per live key, then END.
func (c *conn) retrieve(keys [][]byte, withCAS bool) bool {
	if len(keys) == 0 {
		c.reply("ERROR")
		return true
	}
	if !allValidKeys(keys) {
		c.reply(errBadFormat)
		return true
	}
	for _, tok := range keys {
		k, ok := c.key(tok)
		if !ok {
			c.reply(errBadFormat)
			return true
		}
		it, err := c.srv.store.Get(c.srv.ctx, k, c.val)
		if !c.sendValue(tok, &it, err, withCAS) {
			return true
		}
	}
	c.reply("END")
	return true
}

// allValidKeys checks a lookup's keys before any is served: a bad one
// refuses the whole command, as memcached does, rather than ending a
// stream of VALUE blocks without its END.
func allValidKeys(keys [][]byte) bool {
	for _, tok := range keys {
		if !validKey(tok) {
			return false
		}
	}
	return true
}

// getAndTouch answers gat and gats: retrieve, giving each hit a new expiry.
func (c *conn) getAndTouch(args [][]byte, withCAS bool) bool {
	if len(args) < 1 {
		c.reply("ERROR")
		return true
	}
	t, ok := parseInt64(args[0])
	if !ok {
		c.reply(errBadExptime)
		return true
	}
	if !allValidKeys(args[1:]) {
		c.reply(errBadFormat)
		return true
	}
	c.srv.stats.touchCmds.Add(uint64(len(args) - 1))
	for _, tok := range args[1:] {
		k, ok := c.key(tok)
		if !ok {
			c.reply(errBadFormat)
			return true
		}
		f, err := c.srv.store.Fetch(c.srv.ctx, k, cache.FetchOptions{Touch: true, Time: exptime(t)}, c.val)
		if err == nil {
			c.srv.stats.touchHits.Add(1)
		} else if errors.Is(err, cache.ErrNotFound) {
			c.srv.stats.touchMisses.Add(1)
		}
		if !c.sendValue(tok, &f.Item, err, withCAS) {
			return true
		}
	}
	c.reply("END")
	return true
}

// sendValue writes the VALUE block of a lookup's hit, counts it, and
// reports false after answering a failure.
func (c *conn) sendValue(tok []byte, it *cache.Item, err error, withCAS bool) bool {
	st := c.srv.stats
	switch {
	case err == nil:
		st.getHits.Add(1)
	case errors.Is(err, cache.ErrNotFound):
		st.getMisses.Add(1)
		return true
	default:
		c.reply(textWords[classify(err)])
		return false
	}
	c.out = appendValueLine(c.out[:0], tok, it, withCAS)
	c.write(c.out)
	c.write(it.Value)
	c.write(crlf)
	if cap(it.Value) <= maxRetainedValue {
		c.val = it.Value[:0]
	}
	return true
}

// storeOp is a storage command.
type storeOp int

const (
	opSet storeOp = iota
	opAdd
	opReplace
	opAppend
	opPrepend
	opCAS
)

var putModes = [...]cache.Mode{opSet: cache.ModeSet, opAdd: cache.ModeAdd, opReplace: cache.ModeReplace, opCAS: cache.ModeCAS}

// storage answers set, add, replace, append, prepend and cas:
//
//	<cmd> <key> <flags> <exptime> <bytes> [noreply]
//	cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
//
// then a data block. append and prepend ignore flags and exptime.
func (c *conn) storage(args [][]byte, op storeOp) bool {
	want := 4
	if op == opCAS {
		want = 5
	}
	if len(args) != want && len(args) != want+1 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, want)
	k, okKey := c.key(args[0])
	flags, okFlags := parseUint32(args[1])
	t, okTime := parseInt64(args[2])
	n, okLen := parseInt64(args[3])
	var casID uint64
	okCAS := true
	if op == opCAS {
		casID, okCAS = parseUint64(args[4])
	}
	if !okKey || !okFlags || !okTime || !okLen || !okCAS || n < 0 || n > 1<<31-3 {
		c.reply(errBadFormat)
		// The data block that follows is read as commands, as memcached does.
		return true
	}
	st := c.srv.stats
	st.setCmds.Add(1)
	if int(n) > c.srv.cfg.MaxValueSize {
		// As memcached: a set that cannot store its value must not leave
		// the old one behind to be read as current.
		if op == opSet {
			_ = c.srv.store.Delete(c.srv.ctx, k, 0)
		}
		st.stored(outTooLarge)
		c.reply(textWords[outTooLarge])
		return c.skip(int(n) + 2)
	}
	var o outcome
	res, busy := c.readData(int(n), func(v []byte) {
		o = c.store(op, k, v, flags, exptime(t), casID)
	})
	switch {
	case res == dataFailed:
		return false
	case res == dataBadChunk:
		c.reply(errBadChunk)
		return true
	case busy:
		st.stored(outBusy)
		c.reply(textWords[outBusy])
		return true
	}
	st.stored(o)
	c.reply(textWords[o])
	return true
}

// store performs one storage command and says how it went.
func (c *conn) store(op storeOp, k cache.Key, v []byte, flags uint32, t float64, casID uint64) outcome {
	st := c.srv.stats
	ctx := c.srv.ctx
	switch op {
	case opAppend, opPrepend:
		_, err := c.srv.store.Concat(ctx, k, v, cache.ConcatOptions{Prepend: op == opPrepend})
		return classify(err)
	case opCAS:
		_, err := c.srv.store.Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: v, Kind: cache.KindBytes, Flags: flags, Time: t, CAS: casID})
		o := c.casOutcome(k, err)
		switch o {
		case outOK:
			st.casHits.Add(1)
		case outExists:
			st.casBadval.Add(1)
		case outNotFound:
			st.casMisses.Add(1)
		}
		return o
	default:
		_, err := c.srv.store.Put(ctx, putModes[op], cache.Entry{Key: k, Value: v, Kind: cache.KindBytes, Flags: flags, Time: t})
		return classify(err)
	}
}

// casOutcome tells EXISTS (the item changed) from NOT_FOUND (there is no
// item) after a CAS mismatch, which the store reports alike.
func (c *conn) casOutcome(k cache.Key, err error) outcome {
	if !errors.Is(err, cache.ErrCASMismatch) {
		return classify(err)
	}
	_, ferr := c.srv.store.Fetch(c.srv.ctx, k, cache.FetchOptions{NoValue: true, NoBump: true}, nil)
	if errors.Is(ferr, cache.ErrNotFound) {
		return outNotFound
	}
	return outExists
}

// cmdDelete answers "delete <key> [0] [noreply]" (a hold time other than 0
// is refused, as memcached refuses it).
func cmdDelete(c *conn, args [][]byte) bool {
	if len(args) < 1 || len(args) > 3 {
		c.reply("ERROR")
		return true
	}
	if len(args) > 1 {
		zero := string(args[1]) == "0"
		c.noreplyAt(args, len(args)-1)
		if !(len(args) == 2 && (zero || c.noreply) || len(args) == 3 && zero && c.noreply) {
			c.reply("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]")
			return true
		}
	}
	k, ok := c.key(args[0])
	if !ok {
		c.reply(errBadFormat)
		return true
	}
	err := c.srv.store.Delete(c.srv.ctx, k, 0)
	o := lookup(err)
	switch o {
	case outOK:
		c.srv.stats.deleteHits.Add(1)
		c.reply("DELETED")
	case outNotFound:
		c.srv.stats.deleteMisses.Add(1)
		c.reply("NOT_FOUND")
	default:
		c.reply(textWords[o])
	}
	return true
}

// arithmetic answers "incr|decr <key> <delta> [noreply]" with the new value.
func (c *conn) arithmetic(args [][]byte, decr bool) bool {
	if len(args) != 2 && len(args) != 3 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, 2)
	k, ok := c.key(args[0])
	if !ok {
		c.reply(errBadFormat)
		return true
	}
	delta, ok := parseUint64(args[1])
	if !ok {
		c.reply(errBadDelta)
		return true
	}
	n, err := c.srv.store.Offset(c.srv.ctx, k, cache.Delta{Amount: delta, Decrement: decr}, nil)
	o := lookup(err)
	c.srv.stats.arith(decr, o == outOK || o == outNotNumber)
	if o != outOK {
		c.reply(textWords[o])
		return true
	}
	c.reply(strconv.FormatUint(n, 10))
	return true
}

// cmdTouch answers "touch <key> <exptime> [noreply]".
func cmdTouch(c *conn, args [][]byte) bool {
	if len(args) != 2 && len(args) != 3 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, 2)
	k, ok := c.key(args[0])
	if !ok {
		c.reply(errBadFormat)
		return true
	}
	t, ok := parseInt64(args[1])
	if !ok {
		c.reply(errBadExptime)
		return true
	}
	c.srv.stats.touchCmds.Add(1)
	_, err := c.srv.store.Fetch(c.srv.ctx, k, cache.FetchOptions{Touch: true, Time: exptime(t), NoValue: true}, nil)
	o := lookup(err)
	switch o {
	case outOK:
		c.srv.stats.touchHits.Add(1)
		c.reply("TOUCHED")
	case outNotFound:
		c.srv.stats.touchMisses.Add(1)
		c.reply("NOT_FOUND")
	default:
		c.reply(textWords[o])
	}
	return true
}

// cmdFlushAll answers "flush_all [delay] [noreply]". Every item of every
// namespace goes, HTTP's too: the store has one flush. A delay schedules
// the flush (replacing one already scheduled); items written before it
// runs go with it, as memcached's "updated before the flush time" rule has it.
func cmdFlushAll(c *conn, args [][]byte) bool {
	if len(args) > 2 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, len(args)-1)
	var delay int64
	if len(args) == 2 || len(args) == 1 && !c.noreply {
		var ok bool
		if delay, ok = parseInt64(args[0]); !ok {
			c.reply(errBadExptime)
			return true
		}
	}
	c.srv.stats.flushCmds.Add(1)
	wait := time.Duration(0)
	switch {
	case delay > cache.MaxRelativeSeconds:
		wait = time.Unix(delay, 0).Sub(c.srv.cfg.Clock())
	case delay > 0:
		wait = time.Duration(delay) * time.Second
	}
	if err := c.srv.flush(wait); err != nil {
		c.reply(textWords[classify(err)])
		return true
	}
	c.reply("OK")
	return true
}

// flush empties the store now, or schedules it after wait.
func (s *Server) flush(wait time.Duration) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.flushTimer != nil {
		s.flushTimer.Stop()
		s.flushTimer = nil
	}
	if wait <= 0 {
		return s.store.FlushAll(s.ctx)
	}
	s.flushTimer = time.AfterFunc(wait, func() {
		if err := s.store.FlushAll(s.ctx); err != nil {
			s.cfg.Logger.Warn("memcached: delayed flush_all", "err", err)
		}
	})
	return nil
}

// cmdCacheMemlimit answers "cache_memlimit <megabytes> [noreply]". The
// store's memory limit is fixed when it starts, so only the current limit
// is accepted; memcached's own lower bound is kept.
func cmdCacheMemlimit(c *conn, args [][]byte) bool {
	if len(args) != 1 && len(args) != 2 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, 1)
	mb, ok := parseUint64(args[0])
	switch {
	case !ok:
		c.reply("ERROR")
	case mb < 8:
		c.reply("MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m")
	case c.srv.cfg.MemoryLimit != 0 && mb<<20 == uint64(c.srv.cfg.MemoryLimit):
		c.reply("OK")
	default:
		c.reply("SERVER_ERROR the memory limit is fixed at start: restart memcached-http with -memory-limit " + strconv.FormatUint(mb<<20, 10))
	}
	return true
}

func cmdVersion(c *conn, _ [][]byte) bool {
	c.reply("VERSION " + Version)
	return true
}

// cmdVerbosity answers "verbosity <level> [noreply]": logging is set by
// -log-level, so the level is accepted and changes nothing.
func cmdVerbosity(c *conn, args [][]byte) bool {
	if len(args) != 1 && len(args) != 2 {
		c.reply("ERROR")
		return true
	}
	c.noreplyAt(args, len(args)-1)
	if len(args) == 1 && c.noreply {
		return true
	}
	if _, ok := parseUint32(args[0]); !ok {
		c.reply(errBadFormat)
		return true
	}
	c.reply("OK")
	return true
}

// cmdShutdown is refused, as memcached refuses it unless started with -A:
// a cache client must not stop the server.
func cmdShutdown(c *conn, _ [][]byte) bool {
	c.reply("ERROR: shutdown not enabled")
	return true
}
