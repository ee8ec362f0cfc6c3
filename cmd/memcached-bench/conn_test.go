package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cannedServer answers each request on one connection with the next reply,
// written verbatim, so framing edge cases can be tested byte for byte.
func cannedServer(t *testing.T, replies ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, reply := range replies {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

const getReq = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

func TestConnReadsEachFraming(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		status  int
		bodyLen int
	}{
		{"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5},
		{"header names in any case", "HTTP/1.1 200 OK\r\ncontent-length:  3 \r\n\r\nabc", 200, 3},
		{"chunked with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, 14},
		{"an empty chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, 0},
		{"404 with a body", "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", 404, 2},
		{"304 has no body whatever it declares", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", 304, 0},
		{"an interim 100 Continue is skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 201, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The same reply twice proves the body was consumed exactly and
			// the connection is ready for the next exchange.
			c, err := dial(cannedServer(t, tt.reply, tt.reply), time.Second)
			require.NoError(t, err)
			defer c.Close()
			for range 2 {
				status, n, err := c.do([]byte(getReq))
				require.NoError(t, err)
				assert.Equal(t, tt.status, status)
				assert.Equal(t, tt.bodyLen, n)
			}
		})
	}
}

func TestConnReportsCloseAfterReadingTheReply(t *testing.T) {
	c, err := dial(cannedServer(t, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), time.Second)
	require.NoError(t, err)
	defer c.Close()
	status, _, err := c.do([]byte(getReq))
	assert.ErrorIs(t, err, errClosed)
	assert.Equal(t, 503, status, "the status is still reported")
}

func TestConnRefusesMalformedReplies(t *testing.T) {
	tests := []struct{ name, reply string }{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"},
		{"a status that is not a number", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"a header without a colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n"},
		{"a negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
		{"no framing on a keep-alive connection", "HTTP/1.1 200 OK\r\n\r\nbody"},
		{"a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"a chunk longer than declared", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dial(cannedServer(t, tt.reply), time.Second)
			require.NoError(t, err)
			defer c.Close()
			_, _, err = c.do([]byte(getReq))
			assert.ErrorIs(t, err, errBadResponse)
		})
	}
}

func TestConnRefusesHeaderLinesLongerThanItsBuffer(t *testing.T) {
	c, err := dial(cannedServer(t, "HTTP/1.1 200 OK\r\nX-Long: "+strings.Repeat("a", 70<<10)+"\r\n\r\n"), time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, _, err = c.do([]byte(getReq))
	assert.ErrorIs(t, err, errBadResponse)
}
