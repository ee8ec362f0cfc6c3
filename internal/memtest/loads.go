package memtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
)

// Load is one way of driving a server, scaled to its memory limit.
type Load struct {
	Name string
	// Run drives s, whose -memory-limit is limit; short runs a few seconds'
	// worth, for make test.
	Run func(ctx context.Context, s *Server, limit int64, short bool) error
}

// Loads are the loads of issue 14, each writing at least twice the limit
// unless short.
var Loads = []Load{
	{"distinct 100 KB values, 16 writers", distinct100K},
	{"10-byte values via batchSet of 10k", batchSetTiny},
	{"1 MiB values, 8 writers", distinct1MiB},
	{"batchGets of 256 KiB values during writes", batchGetsDuringWrites},
	{"10k-key batchSets of 100-byte items, 4 writers", batchSetSmall},
}

// LoadNamed returns the load called name.
func LoadNamed(name string) Load {
	for _, l := range Loads {
		if l.Name == name {
			return l
		}
	}
	panic("memtest: no load " + name)
}

// atLeast is n, or enough of size bytes to write twice limit.
func atLeast(n int64, limit, size int64) int64 { return max(n, 2*limit/size) }

// putRaw writes count values of size bytes under distinct keys with
// writers in parallel.
func putRaw(ctx context.Context, s *Server, prefix string, size int, count int64, writers int) error {
	c := &counter{total: count}
	return parallel(ctx, writers, func(ctx context.Context, w int) error {
		value := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		for i := range value {
			value[i] = byte(rng.Uint32())
		}
		for {
			n, ok := c.take()
			if !ok {
				return nil
			}
			// Each value differs from the last in its first bytes.
			copy(value, strconv.FormatInt(n, 10))
			if _, err := s.do(ctx, "PUT", "/v1/ns/default/keys/"+prefix+strconv.FormatInt(n, 10), "application/octet-stream", value); err != nil {
				return err
			}
		}
	})
}

// distinct100K is the first load: 1 GiB (or twice the limit) of
// distinct 100 KB values from 16 writers.
func distinct100K(ctx context.Context, s *Server, limit int64, short bool) error {
	const size = 100_000
	count := atLeast(1<<30/size, limit, size)
	if short {
		count = 256 * MiB / size
	}
	return putRaw(ctx, s, "v", size, count, 16)
}

// distinct1MiB is the third load: 700 (or twice the limit) values
// of 1 MiB.
func distinct1MiB(ctx context.Context, s *Server, limit int64, short bool) error {
	count := atLeast(700, limit, MiB)
	if short {
		count = 128
	}
	return putRaw(ctx, s, "m", MiB, count, 8)
}

// batchSets sends items in batchSets of 10k from writers in parallel,
// values being JSON strings of valueLen characters.
func batchSets(ctx context.Context, s *Server, items int64, valueLen, writers int) error {
	const batch = 10_000
	c := &counter{total: (items + batch - 1) / batch}
	return parallel(ctx, writers, func(ctx context.Context, w int) error {
		value := strings.Repeat("x", valueLen)
		var b strings.Builder
		for {
			n, ok := c.take()
			if !ok {
				return nil
			}
			b.Reset()
			b.WriteString(`{"items":[`)
			for i := range batch {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"key":"s%d","value":"%s"}`, n*batch+int64(i), value)
			}
			b.WriteString(`]}`)
			if _, err := s.do(ctx, "POST", "/v1/ns/default/keys:batchSet", "application/json", []byte(b.String())); err != nil {
				return err
			}
		}
	})
}

// batchSetTiny is the second load: 2 M (or enough to write twice
// the limit) 10-byte values (8 characters and their quotes) via batchSet
// of 10k.
func batchSetTiny(ctx context.Context, s *Server, limit int64, short bool) error {
	items := atLeast(2_000_000, limit, 130)
	if short {
		items = 600_000
	}
	return batchSets(ctx, s, items, 8, 2)
}

// batchSetSmall sends 10k-key batchSets of 100-byte values from 4 writers.
func batchSetSmall(ctx context.Context, s *Server, limit int64, short bool) error {
	items := atLeast(1_000_000, limit, 220)
	if short {
		items = 100_000
	}
	return batchSets(ctx, s, items, 98, 4)
}

// batchGetsDuringWrites writes 256 KiB values (twice the limit) from 8
// writers while 8 readers batchGet 32 of the most recently written keys
// at a time, so responses carry up to 8 MiB of values each.
func batchGetsDuringWrites(ctx context.Context, s *Server, limit int64, short bool) error {
	const size, keys = 256 << 10, 32
	count := atLeast(0, limit, size)
	if short {
		count = 512
	}
	var written atomic.Int64
	var done atomic.Bool
	read := make(chan error, 1)
	go func() {
		read <- parallel(ctx, 8, func(ctx context.Context, w int) error {
			body := struct {
				Keys []string `json:"keys"`
			}{Keys: make([]string, keys)}
			for !done.Load() {
				top := written.Load()
				for i := range body.Keys {
					body.Keys[i] = "g" + strconv.FormatInt(max(0, top-int64(i)), 10)
				}
				b, err := json.Marshal(body)
				if err != nil {
					return fmt.Errorf("memtest: %w", err)
				}
				if _, err := s.do(ctx, "POST", "/v1/ns/default/keys:batchGet", "application/json", b); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	c := &counter{total: count}
	err := parallel(ctx, 8, func(ctx context.Context, w int) error {
		value := make([]byte, size)
		for {
			n, ok := c.take()
			if !ok {
				return nil
			}
			copy(value, strconv.FormatInt(n, 10))
			if _, err := s.do(ctx, "PUT", "/v1/ns/default/keys/g"+strconv.FormatInt(n, 10), "application/octet-stream", value); err != nil {
				return err
			}
			for top := written.Load(); n > top && !written.CompareAndSwap(top, n); top = written.Load() {
			}
		}
	})
	done.Store(true)
	if rerr := <-read; err == nil {
		err = rerr
	}
	return err
}
