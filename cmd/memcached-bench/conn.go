package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// errBadResponse is returned when a server's reply is not HTTP/1.1 this client
// can follow.
var errBadResponse = errors.New("memcached-bench: malformed HTTP response")

// errClosed is returned when the server asked to close the connection, which
// a keep-alive benchmark treats as a failure of the run.
var errClosed = errors.New("memcached-bench: server closed the connection")

// conn is a minimal HTTP/1.1 keep-alive client over one TCP connection. It
// writes prebuilt request bytes and reads only what it needs of the reply
// (status, framing), discarding the body without copying or allocating, so the
// client costs far less CPU than net/http's and is not what gets measured.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

// dial opens a keep-alive connection to addr (host:port).
func dial(addr string, timeout time.Duration) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("memcached-bench: dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Requests are written whole; Nagle would only delay them.
		if err := tc.SetNoDelay(true); err != nil {
			nc.Close()
			return nil, fmt.Errorf("memcached-bench: dial %s: %w", addr, err)
		}
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// Close closes the connection.
func (c *conn) Close() error { return c.nc.Close() }

// do writes one complete request and reads its response, returning the status
// code and the number of body bytes.
func (c *conn) do(req []byte) (status int, bodyLen int, err error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, 0, fmt.Errorf("memcached-bench: write: %w", err)
	}
	return c.readResponse()
}

// readResponse reads a status line, headers and a Content-Length or chunked
// body. Interim 1xx responses are skipped.
func (c *conn) readResponse() (status int, bodyLen int, err error) {
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, 0, err
		}
		// "HTTP/1.1 200 OK": the code sits at bytes 9..11.
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, 0, fmt.Errorf("%w: status line %q", errBadResponse, line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, 0, fmt.Errorf("%w: status line %q", errBadResponse, line)
		}
		length, chunked, closing, err := c.readHeaders()
		if err != nil {
			return 0, 0, err
		}
		if status >= 100 && status < 200 {
			continue
		}
		switch {
		case status == 204 || status == 304:
			bodyLen = 0
		case chunked:
			bodyLen, err = c.discardChunked()
		case length >= 0:
			_, err = c.br.Discard(length)
			bodyLen = length
		default:
			return 0, 0, fmt.Errorf("%w: status %d without Content-Length on a keep-alive connection", errBadResponse, status)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("memcached-bench: read body: %w", err)
		}
		if closing {
			return status, bodyLen, errClosed
		}
		return status, bodyLen, nil
	}
}

// readHeaders consumes the header block and returns the framing it declares:
// Content-Length (-1 if absent), chunked transfer coding, and Connection: close.
func (c *conn) readHeaders() (length int, chunked, closing bool, err error) {
	length = -1
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, false, false, err
		}
		if len(line) == 0 {
			return length, chunked, closing, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, false, fmt.Errorf("%w: header %q", errBadResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil || length < 0 {
				return 0, false, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
}

// discardChunked skips a chunked body and its trailers, returning the body size.
func (c *conn) discardChunked() (int, error) {
	total := 0
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions carry nothing we need
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil || size < 0 {
			return 0, fmt.Errorf("%w: chunk size %q", errBadResponse, line)
		}
		if size == 0 {
			// Trailers, if any, end with an empty line.
			for {
				line, err := c.readLine()
				if err != nil {
					return 0, err
				}
				if len(line) == 0 {
					return total, nil
				}
			}
		}
		if _, err := c.br.Discard(int(size)); err != nil {
			return 0, fmt.Errorf("memcached-bench: chunk: %w", err)
		}
		total += int(size)
		line, err = c.readLine()
		if err != nil {
			return 0, err
		}
		if len(line) != 0 {
			return 0, fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
		}
	}
}

// readLine returns one line without its CRLF. The slice is only valid until
// the next read, which is all a header scan needs.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errBadResponse, c.br.Size())
		}
		return nil, fmt.Errorf("memcached-bench: read: %w", err)
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
