package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// LoadBytes is Load of a file's bytes.
func LoadBytes(ctx context.Context, m *cache.Memory, b []byte) (LoadStats, error) {
	return load(ctx, m, bytes.NewReader(b), int64(len(b)))
}

// Frame wraps records, as a block payload, in a valid header, section,
// trailer and footer with correct checksums, so a fuzzer's bytes reach the
// record decoder instead of stopping at a checksum. records is the count
// the trailer claims.
func Frame(payload []byte, records uint64) []byte {
	hb := header{casHigh: 1 << 20, shards: 1}.encode()
	b := append([]byte(nil), hb...)
	first := uint64(len(b))
	if len(payload) > 0 {
		blk := make([]byte, blockHead, blockHead+len(payload))
		blk = append(blk, payload...)
		blockHeader(blk[:blockHead], kindBlock, 0, blk[blockHead:])
		b = append(b, blk...)
	}
	trailerOff := uint64(len(b))
	tr := make([]byte, blockHead, blockHead+sectionLen)
	tr = binary.LittleEndian.AppendUint64(tr, first)
	tr = binary.LittleEndian.AppendUint64(tr, trailerOff-first)
	tr = binary.LittleEndian.AppendUint64(tr, records)
	blockHeader(tr[:blockHead], kindTrail, 1, tr[blockHead:])
	b = append(b, tr...)
	return append(b, encodeFooter(trailerOff, binary.LittleEndian.Uint32(hb[36:]))...)
}

// AppendRecord is appendRecord, for building fuzz seeds.
func AppendRecord(b []byte, r *cache.Record) []byte { return appendRecord(b, r) }

// SetPerItem makes Load restore record by record (the path before the bulk
// one) while on is true: the benchmark's baseline.
func SetPerItem(on bool) { perItem = on }
