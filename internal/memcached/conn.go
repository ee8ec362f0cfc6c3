package memcached

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// conn is one client connection: a command line at a time, answers
// buffered and flushed once no pipelined command is waiting.
type conn struct {
	srv *Server
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer

	line   []byte   // the current command line, copied out of r
	tokens [][]byte // line split at spaces
	val    []byte   // reused value buffer of reads
	out    []byte   // reused scratch for building reply lines
	meta   metaReq  // the current meta command's key and flags
	// noreply: the current command asked for no answer (text protocol).
	noreply bool
}

// errLineTooLong: a command line passed Config.MaxLineBytes.
var errLineTooLong = errors.New("memcached: line too long")

func (c *conn) serve() {
	for {
		if c.r.Buffered() == 0 {
			if c.w.Flush() != nil {
				return
			}
			if d := c.srv.cfg.IdleTimeout; d > 0 {
				_ = c.nc.SetReadDeadline(time.Now().Add(d))
			}
		}
		if err := c.readLine(); err != nil {
			if errors.Is(err, errLineTooLong) {
				// The rest of the line cannot be told from the next command.
				c.w.WriteString("CLIENT_ERROR line too long\r\n")
				_ = c.w.Flush()
				c.lingeringClose()
			}
			return
		}
		c.tokenize()
		if len(c.tokens) == 0 {
			c.reply("ERROR")
			continue
		}
		c.noreply = false
		cmd, ok := commands[string(c.tokens[0])]
		if !ok {
			c.srv.stats.count(cmdUnknown)
			c.reply("ERROR")
			continue
		}
		c.srv.stats.count(cmd.id)
		if !cmd.run(c, c.tokens[1:]) {
			_ = c.w.Flush()
			return
		}
	}
}

// lingeringClose ends the connection so the client reads the last answer:
// closing with its unread input pending would reset the connection and
// could discard that answer in flight. So the sending side closes first,
// and input is drained for a moment (bounded in time and bytes).
func (c *conn) lingeringClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.CopyN(io.Discard, c.r, 1<<20)
}

// readLine reads the next command line into c.line, without its "\r\n"
// (a bare "\n" ends a line too, as in memcached).
func (c *conn) readLine() error {
	c.line = c.line[:0]
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(c.line)+len(chunk) > c.srv.cfg.MaxLineBytes {
			return errLineTooLong
		}
		c.line = append(c.line, chunk...)
		switch {
		case err == nil:
			c.srv.stats.bytesRead.Add(uint64(len(c.line)))
			c.line = bytes.TrimSuffix(c.line[:len(c.line)-1], []byte{'\r'})
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return err
		}
	}
}

// tokenize splits c.line at spaces; runs of spaces separate like one.
func (c *conn) tokenize() {
	c.tokens = c.tokens[:0]
	line := c.line
	for len(line) > 0 {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			c.tokens = append(c.tokens, line)
			return
		}
		if i > 0 {
			c.tokens = append(c.tokens, line[:i])
		}
		line = line[i+1:]
	}
}

// reply writes one answer line unless the command asked for no answer.
func (c *conn) reply(s string) {
	if c.noreply {
		return
	}
	c.w.WriteString(s)
	c.w.WriteString("\r\n")
}

// write writes raw answer bytes.
func (c *conn) write(b []byte) {
	c.srv.stats.bytesWritten.Add(uint64(len(b)))
	c.w.Write(b)
}

// dataResult says how reading a data block went.
type dataResult int

const (
	dataOK       dataResult = iota
	dataBadChunk            // the block did not end in "\r\n"
	dataFailed              // the connection failed
)

// readData reads a data block of n bytes and its "\r\n" and calls store
// with the n bytes, valid only during the call. A block that fits the read
// buffer is handed over in place; a larger one is read into memory counted
// against Config.MaxPendingBytes, and when that is used up the block is
// skipped and busy reports it.
func (c *conn) readData(n int, store func(value []byte)) (res dataResult, busy bool) {
	c.srv.stats.bytesRead.Add(uint64(n) + 2)
	if n+2 <= c.r.Size() {
		b, err := c.r.Peek(n + 2)
		if err != nil {
			return dataFailed, false
		}
		defer c.r.Discard(n + 2)
		if b[n] != '\r' || b[n+1] != '\n' {
			return dataBadChunk, false
		}
		store(b[:n])
		return dataOK, false
	}
	need := int64(n) + 2
	if c.srv.pending.Add(need) > c.srv.cfg.MaxPendingBytes {
		c.srv.pending.Add(-need)
		if !c.skip(n + 2) {
			return dataFailed, true
		}
		return dataOK, true
	}
	defer c.srv.pending.Add(-need)
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return dataFailed, false
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return dataBadChunk, false
	}
	store(buf[:n])
	return dataOK, false
}

// skip reads and drops n bytes (a value that will not be stored), as
// memcached swallows them, so the connection stays in step.
func (c *conn) skip(n int) bool {
	_, err := c.r.Discard(n)
	return err == nil
}

// key turns a wire key into a store key, or reports it invalid: 1 to 250
// bytes. Spaces cannot reach here (they separate tokens) nor line ends.
// protocol.txt also rules out control characters, but memcached itself
// accepts them and its own load generator, memaslap, sends keys that start
// with them; keys with them are valid over HTTP too. So they are accepted,
// as memcached accepts them.
func (c *conn) key(tok []byte) (cache.Key, bool) {
	if !validKey(tok) {
		return cache.Key{}, false
	}
	return cache.Key{Namespace: c.srv.ns, Name: string(tok)}, true
}

func validKey(tok []byte) bool {
	return len(tok) > 0 && len(tok) <= cache.MaxKeyBytes
}

// Number parsing, with memcached's rules: decimal digits only, a leading
// '-' where a signed value is allowed.

func parseUint64(tok []byte) (uint64, bool) {
	if len(tok) == 0 || len(tok) > 20 {
		return 0, false
	}
	for _, b := range tok {
		if b < '0' || b > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(tok), 10, 64)
	return n, err == nil
}

func parseUint32(tok []byte) (uint32, bool) {
	n, ok := parseUint64(tok)
	if !ok || n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

func parseInt64(tok []byte) (int64, bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	n, ok := parseUint64(tok)
	if !ok || n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// exptime converts a memcached exptime into an Entry.Time: 0 never
// expires, up to 30 days is relative, more is a Unix time, and a negative
// one expires the item at once.
func exptime(t int64) float64 {
	if t < 0 {
		return cache.ExpiredTime
	}
	return float64(t)
}

// appendValueLine appends "VALUE <key> <flags> <bytes>[ <cas>]\r\n".
func appendValueLine(dst, key []byte, it *cache.Item, withCAS bool) []byte {
	dst = append(dst, "VALUE "...)
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(it.Flags), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(it.Value)), 10)
	if withCAS {
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, it.CAS, 10)
	}
	return append(dst, "\r\n"...)
}
