package memcached

import (
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// metaReq is a parsed meta command: its key and its flags, each a single
// character, some with a token after it ("T30", "Oabc").
type metaReq struct {
	keyTok []byte // the key as sent (base64 with b), echoed by k
	key    cache.Key
	flags  [][]byte  // flag tokens in the order sent, for echoing in order
	at     [128]int8 // 1 + index into flags of each flag character; 0 = absent
}

func (m *metaReq) has(f byte) bool { return m.at[f] != 0 }

// arg is the token of flag f (empty when absent).
func (m *metaReq) arg(f byte) []byte {
	if i := m.at[f]; i != 0 {
		return m.flags[i-1][1:]
	}
	return nil
}

const (
	errMetaToken   = "CLIENT_ERROR bad token in command line format"
	errMetaOpaque  = "CLIENT_ERROR opaque token too long"
	errMetaDupFlag = "CLIENT_ERROR duplicate flag"
	errMetaBadNum  = "CLIENT_ERROR invalid or duplicate flag"
	maxOpaque      = 32
	maxMetaFlags   = 24 // memcached's own bound on tokens per command
)

// metaFlags are the flag characters memcached 1.6 knows in any meta command
// (each command acts on its own and passes over the others), and
// protocol.txt's x of md; any other is refused.
const metaFlags = "bcfhklqstuvxCDEFIJLMNOPRT"

// The refusals of a flag not in metaFlags, which memcached words per command.
const (
	errMetaFlag         = "CLIENT_ERROR invalid flag"
	errMetaFlagOrRepeat = "CLIENT_ERROR invalid or duplicate flag"
)

// parseMeta reads the key token and the flag tokens of a meta command into
// c.meta; on a syntax error it returns the error line to answer, with
// unknownFlag for a flag not in metaFlags ("" lets any through).
func (c *conn) parseMeta(keyTok []byte, flags [][]byte, unknownFlag string) (*metaReq, string) {
	m := &c.meta
	clear(m.at[:])
	m.flags = m.flags[:0]
	m.keyTok = keyTok
	if len(flags) > maxMetaFlags {
		return nil, errBadFormat
	}
	for _, f := range flags {
		ch := f[0]
		if ch >= 128 || ch <= ' ' {
			return nil, errBadFormat
		}
		if unknownFlag != "" && !containsByte(metaFlags, ch) {
			// Refused as memcached refuses it: a mistyped flag must not
			// pass for a request without it.
			return nil, unknownFlag
		}
		if m.at[ch] != 0 {
			return nil, errMetaDupFlag
		}
		m.flags = append(m.flags, f)
		m.at[ch] = int8(len(m.flags))
	}
	if len(m.arg('O')) > maxOpaque {
		return nil, errMetaOpaque
	}
	if m.has('E') {
		// Refused rather than ignored: a client that sets E expects its id.
		return nil, "CLIENT_ERROR the E flag is not supported: CAS ids come from the server's counter"
	}
	name := keyTok
	if m.has('b') {
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(keyTok)))
		n, err := base64.StdEncoding.Decode(dec, keyTok)
		if err != nil || n == 0 || n > cache.MaxKeyBytes {
			return nil, "CLIENT_ERROR error decoding key"
		}
		m.key = cache.Key{Namespace: c.srv.ns, Name: string(dec[:n])}
		return m, ""
	}
	if !validKey(name) {
		return nil, errBadFormat
	}
	m.key = cache.Key{Namespace: c.srv.ns, Name: string(name)}
	return m, ""
}

// numArg parses the numeric token of flag f, if present.
func (m *metaReq) numArg(f byte) (n int64, present, ok bool) {
	if !m.has(f) {
		return 0, false, true
	}
	n, ok = parseInt64(m.arg(f))
	return n, true, ok
}

// echo appends the flags a meta answer returns, in the order they were
// sent: those in want whose values come from vals.
func (c *conn) echo(dst []byte, m *metaReq, want string, vals func(dst []byte, f byte) []byte) []byte {
	for _, tok := range m.flags {
		f := tok[0]
		if !containsByte(want, f) {
			continue
		}
		switch f {
		case 'O':
			dst = append(append(dst, " O"...), tok[1:]...)
		case 'k':
			dst = append(append(dst, " k"...), m.keyTok...)
			if m.has('b') {
				// The key comes back as sent, so say it is base64.
				dst = append(dst, " b"...)
			}
		case 'b':
		default:
			dst = vals(append(dst, ' ', f), f)
		}
	}
	return dst
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// ttl is the remaining lifetime memcached reports: -1 for none.
func (c *conn) ttl(expires int64) int64 {
	if expires == 0 {
		return -1
	}
	// Whole seconds left, rounded down, as memcached's second-granular
	// clock reports them.
	return max(0, (expires*1e9-c.srv.cfg.Clock().UnixNano())/1e9)
}

// metaLine ends an answer line and writes it, unless quiet mode hides it.
func (c *conn) metaLine(line []byte, hide bool) {
	if hide {
		return
	}
	c.write(append(line, "\r\n"...))
}

// metaError answers an error line: quiet mode never hides errors.
func (c *conn) metaError(s string) bool {
	c.w.WriteString(s)
	c.w.WriteString("\r\n")
	return true
}

// cmdMetaGet answers "mg <key> <flags>*".
func cmdMetaGet(c *conn, args [][]byte) bool {
	if len(args) < 1 {
		return c.metaError("ERROR")
	}
	m, errLine := c.parseMeta(args[0], args[1:], errMetaFlag)
	if m == nil {
		return c.metaError(errLine)
	}
	// s reports the value's size, so the value is read for it too.
	opts := cache.FetchOptions{NoBump: m.has('u'), NoValue: !m.has('v') && !m.has('s')}
	t, hasT, okT := m.numArg('T')
	n, hasN, okN := m.numArg('N')
	r, hasR, okR := m.numArg('R')
	if !okT || !okN || !okR {
		return c.metaError(errMetaToken)
	}
	opts.Touch, opts.Time = hasT, exptime(t)
	opts.Vivify, opts.VivifyTime = hasN, exptime(n)
	opts.Recache, opts.RecacheBelow = hasR, r
	f, err := c.srv.store.Fetch(c.srv.ctx, m.key, opts, c.val)
	st := c.srv.stats
	if hasT {
		st.touchCmds.Add(1)
	}
	switch {
	case errors.Is(err, cache.ErrNotFound):
		st.getMisses.Add(1)
		if hasT {
			st.touchMisses.Add(1)
		}
		c.metaLine(c.echo(append(c.out[:0], "EN"...), m, "bkO", nil), m.has('q'))
		return true
	case err != nil:
		return c.metaError(metaWords[classify(err)])
	}
	st.getHits.Add(1)
	if hasT {
		st.touchHits.Add(1)
	}
	// protocol.txt has C hold the value back when the CAS id matches;
	// memcached 1.6 sends it anyway, and so does this listener.
	sendValue := m.has('v')
	line := c.out[:0]
	if sendValue {
		line = strconv.AppendInt(append(line, "VA "...), int64(len(f.Value)), 10)
	} else {
		line = append(line, "HD"...)
	}
	line = c.echo(line, m, "bcfhklOst", func(dst []byte, fl byte) []byte {
		switch fl {
		case 'c':
			return strconv.AppendUint(dst, f.CAS, 10)
		case 'f':
			return strconv.AppendUint(dst, uint64(f.Flags), 10)
		case 'h':
			if f.HitBefore {
				return append(dst, '1')
			}
			return append(dst, '0')
		case 'l':
			return strconv.AppendInt(dst, f.Idle, 10)
		case 's':
			return strconv.AppendInt(dst, int64(len(f.Value)), 10)
		default: // 't'
			return strconv.AppendInt(dst, c.ttl(f.Expires), 10)
		}
	})
	// The recache marks close the line, in memcached's order.
	if f.Lost {
		line = append(line, " Z"...)
	}
	if f.Stale {
		line = append(line, " X"...)
	}
	if f.Won {
		line = append(line, " W"...)
	}
	c.metaLine(line, false)
	if sendValue {
		c.write(f.Value)
		c.write(crlf)
	}
	if cap(f.Value) <= maxRetainedValue {
		c.val = f.Value[:0]
	}
	c.out = line[:0]
	return true
}

// metaModes are the storage modes of ms's M flag.
var metaModes = map[byte]storeOp{
	'S': opSet, 'E': opAdd, 'R': opReplace, 'A': opAppend, 'P': opPrepend, // upper case only, as in memcached 1.6
}

// cmdMetaSet answers "ms <key> <datalen> <flags>*" and its data block.
func cmdMetaSet(c *conn, args [][]byte) bool {
	if len(args) < 2 {
		return c.metaError("ERROR")
	}
	n, okLen := parseInt64(args[1])
	if !okLen || n < 0 || n > 1<<31-3 {
		return c.metaError(errBadFormat)
	}
	m, errLine := c.parseMeta(args[0], args[2:], errMetaFlag)
	if m == nil {
		// The data block cannot be told from commands; skip it as memcached does.
		c.metaError(errLine)
		return c.skip(int(n) + 2)
	}
	op := opSet
	if m.has('M') {
		mode := m.arg('M')
		var ok bool
		if len(mode) == 1 {
			op, ok = metaModes[mode[0]]
		}
		if !ok {
			c.metaError("CLIENT_ERROR invalid mode for ms M token")
			return c.skip(int(n) + 2)
		}
	}
	t, _, okT := m.numArg('T')
	viv, hasN, okN := m.numArg('N')
	flags, okF := uint32(0), true
	if m.has('F') {
		flags, okF = parseUint32(m.arg('F'))
	}
	casID, okC := uint64(0), true
	if m.has('C') {
		casID, okC = parseUint64(m.arg('C'))
	}
	if !okT || !okN || !okF || !okC {
		c.metaError(errBadFormat)
		return c.skip(int(n) + 2)
	}
	c.srv.stats.setCmds.Add(1)
	if int(n) > c.srv.cfg.MaxValueSize {
		if op == opSet {
			_ = c.srv.store.Delete(c.srv.ctx, m.key, 0)
		}
		c.srv.stats.stored(outTooLarge)
		c.metaError(metaWords[outTooLarge])
		return c.skip(int(n) + 2)
	}
	var o outcome
	var newCAS uint64
	res, busy := c.readData(int(n), func(v []byte) {
		o, newCAS = c.metaStore(m, op, v, flags, exptime(t), casID, hasN, exptime(viv))
	})
	switch {
	case res == dataFailed:
		return false
	case res == dataBadChunk:
		return c.metaError(errBadChunk)
	case busy:
		c.srv.stats.stored(outBusy)
		return c.metaError(metaWords[outBusy])
	}
	c.srv.stats.stored(o)
	if o.isError() {
		return c.metaError(metaWords[o])
	}
	line := append(c.out[:0], metaWords[o]...)
	line = c.echo(line, m, "bckOs", func(dst []byte, fl byte) []byte {
		if fl == 'c' {
			return strconv.AppendUint(dst, newCAS, 10)
		}
		return strconv.AppendInt(dst, n, 10) // 's'
	})
	c.metaLine(line, o == outOK && m.has('q'))
	c.out = line[:0]
	return true
}

// metaStore performs an ms and returns its outcome and the new CAS id.
func (c *conn) metaStore(m *metaReq, op storeOp, v []byte, flags uint32, t float64, casID uint64, vivify bool, vivTime float64) (outcome, uint64) {
	ctx, store := c.srv.ctx, c.srv.store
	switch op {
	case opAppend, opPrepend:
		id, err := store.Concat(ctx, m.key, v, cache.ConcatOptions{Prepend: op == opPrepend, CAS: casID})
		if errors.Is(err, cache.ErrNotFound) && vivify {
			// N: a miss creates the item from the data, with N's TTL.
			id, err = store.Put(ctx, cache.ModeAdd, cache.Entry{Key: m.key, Value: v, Kind: cache.KindBytes, Flags: flags, Time: vivTime})
			if errors.Is(err, cache.ErrExists) {
				id, err = store.Concat(ctx, m.key, v, cache.ConcatOptions{Prepend: op == opPrepend, CAS: casID})
			}
		}
		if casID != 0 {
			return c.casOutcome(m.key, err), id
		}
		return classify(err), id
	}
	mode := putModes[op]
	if casID != 0 && op == opSet {
		mode = cache.ModeCAS
	}
	e := cache.Entry{Key: m.key, Value: v, Kind: cache.KindBytes, Flags: flags, Time: t, CAS: casID}
	id, err := store.Put(ctx, mode, e)
	if mode == cache.ModeCAS && errors.Is(err, cache.ErrCASMismatch) && m.has('I') {
		// I: a CAS id older than the item's still stores, marked stale.
		if f, ferr := store.Fetch(ctx, m.key, cache.FetchOptions{NoValue: true, NoBump: true}, nil); ferr == nil && casID < f.CAS {
			if id, err = store.Put(ctx, cache.ModeSet, e); err == nil {
				id, err = store.Invalidate(ctx, m.key, cache.InvalidateOptions{CAS: id, Stale: true})
			}
		}
	}
	if mode == cache.ModeCAS {
		return c.casOutcome(m.key, err), id
	}
	return classify(err), id
}

// cmdMetaDelete answers "md <key> <flags>*".
func cmdMetaDelete(c *conn, args [][]byte) bool {
	if len(args) < 1 {
		return c.metaError("ERROR")
	}
	m, errLine := c.parseMeta(args[0], args[1:], errMetaFlagOrRepeat)
	if m == nil {
		return c.metaError(errLine)
	}
	t, hasT, okT := m.numArg('T')
	casID, okC := uint64(0), true
	if m.has('C') {
		casID, okC = parseUint64(m.arg('C'))
	}
	if !okT || !okC {
		return c.metaError(errMetaToken)
	}
	stale := m.has('I')
	_, err := c.srv.store.Invalidate(c.srv.ctx, m.key, cache.InvalidateOptions{
		CAS: casID, Stale: stale, Empty: m.has('x'), Touch: hasT && stale, Time: exptime(t),
	})
	o := lookup(err)
	switch o {
	case outOK:
		c.srv.stats.deleteHits.Add(1)
	case outNotFound:
		c.srv.stats.deleteMisses.Add(1)
	case outNotStored, outExists:
	default:
		return c.metaError(metaWords[o])
	}
	line := append(c.out[:0], metaWords[o]...)
	line = c.echo(line, m, "bkO", nil)
	c.metaLine(line, o == outOK && m.has('q'))
	c.out = line[:0]
	return true
}

// cmdMetaArithmetic answers "ma <key> <flags>*".
func cmdMetaArithmetic(c *conn, args [][]byte) bool {
	if len(args) < 1 {
		return c.metaError("ERROR")
	}
	m, errLine := c.parseMeta(args[0], args[1:], errMetaFlagOrRepeat)
	if m == nil {
		return c.metaError(errLine)
	}
	ctx, store := c.srv.ctx, c.srv.store
	delta, initial := uint64(1), uint64(0)
	okD, okJ, okC := true, true, true
	if m.has('D') {
		delta, okD = parseUint64(m.arg('D'))
	}
	if m.has('J') {
		initial, okJ = parseUint64(m.arg('J'))
	}
	casID := uint64(0)
	if m.has('C') {
		casID, okC = parseUint64(m.arg('C'))
	}
	t, hasT, okT := m.numArg('T')
	viv, hasN, okN := m.numArg('N')
	decr := false
	if m.has('M') {
		switch string(m.arg('M')) {
		case "I", "+": // upper case only, as in memcached 1.6
		case "D", "-":
			decr = true
		default:
			return c.metaError("CLIENT_ERROR invalid mode for ma M token")
		}
	}
	if !okD || !okJ || !okC || !okT || !okN {
		return c.metaError(errMetaBadNum)
	}
	o := outOK
	if casID != 0 {
		f, err := store.Fetch(ctx, m.key, cache.FetchOptions{NoValue: true, NoBump: true}, nil)
		switch o = lookup(err); {
		case o == outOK && f.CAS != casID:
			o = outExists
		}
	}
	var value uint64
	if o == outOK {
		var err error
		value, err = store.Offset(ctx, m.key, cache.Delta{Amount: delta, Decrement: decr}, nil)
		if errors.Is(err, cache.ErrNotFound) && hasN {
			// N: a miss creates the counter at J, the delta not applied.
			digits := strconv.AppendUint(nil, initial, 10)
			_, err = store.Put(ctx, cache.ModeAdd, cache.Entry{Key: m.key, Value: digits, Kind: cache.KindJSON, Time: exptime(viv)})
			value = initial
			if errors.Is(err, cache.ErrExists) {
				value, err = store.Offset(ctx, m.key, cache.Delta{Amount: delta, Decrement: decr}, nil)
			}
		}
		o = lookup(err)
		if o == outNotStored {
			o = outNotFound
		}
	}
	c.srv.stats.arith(decr, o == outOK)
	if o.isError() {
		return c.metaError(metaWords[o])
	}
	var f cache.Fetched
	if o == outOK && (hasT || m.has('c') || m.has('t')) {
		f, _ = store.Fetch(ctx, m.key, cache.FetchOptions{Touch: hasT, Time: exptime(t), NoValue: true, NoBump: true}, nil)
	}
	digits := strconv.AppendUint(c.val[:0], value, 10)
	line := c.out[:0]
	if o == outOK && m.has('v') {
		line = strconv.AppendInt(append(line, "VA "...), int64(len(digits)), 10)
	} else {
		line = append(line, metaWords[o]...)
	}
	line = c.echo(line, m, "bcktO", func(dst []byte, fl byte) []byte {
		if fl == 'c' {
			return strconv.AppendUint(dst, f.CAS, 10)
		}
		return strconv.AppendInt(dst, c.ttl(f.Expires), 10) // 't'
	})
	c.metaLine(line, o == outOK && m.has('q') && !m.has('v'))
	if o == outOK && m.has('v') {
		c.write(digits)
		c.write(crlf)
	}
	c.out = line[:0]
	return true
}

// cmdMetaNoop answers "mn": the end marker of a pipeline of quiet commands.
func cmdMetaNoop(c *conn, _ [][]byte) bool {
	c.w.WriteString("MN\r\n")
	return true
}

// cmdMetaDebug answers "me <key> [b]" with the item's metadata.
func cmdMetaDebug(c *conn, args [][]byte) bool {
	if len(args) < 1 || len(args) > 2 {
		return c.metaError(errBadFormat)
	}
	m, errLine := c.parseMeta(args[0], args[1:], "")
	if m == nil {
		return c.metaError(errLine)
	}
	f, err := c.srv.store.Fetch(c.srv.ctx, m.key, cache.FetchOptions{NoBump: true}, c.val)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		c.w.WriteString("EN\r\n")
		return true
	case err != nil:
		return c.metaError(metaWords[classify(err)])
	}
	line := append(c.out[:0], "ME "...)
	line = append(line, m.keyTok...)
	line = strconv.AppendInt(append(line, " exp="...), c.ttl(f.Expires), 10)
	line = strconv.AppendInt(append(line, " la="...), f.Idle, 10)
	line = strconv.AppendUint(append(line, " cas="...), f.CAS, 10)
	if f.HitBefore {
		line = append(line, " fetch=yes"...)
	} else {
		line = append(line, " fetch=no"...)
	}
	line = append(line, " cls=1"...)
	size := cache.ItemOverhead + len(m.key.Namespace) + len(m.key.Name) + len(f.Value)
	line = strconv.AppendInt(append(line, " size="...), int64(size), 10)
	c.metaLine(line, false)
	if cap(f.Value) <= maxRetainedValue {
		c.val = f.Value[:0]
	}
	c.out = line[:0]
	return true
}
