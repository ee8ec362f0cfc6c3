// Package snapshot writes the embedded store's live items and delete locks
// to a file and loads them back, so a restart keeps the cache.
//
// # File format (version 1)
//
// All integers are little-endian; every checksum is CRC-32C (Castagnoli).
//
//	header   40 bytes: magic "MCHTSNAP", version u32, flags u32 (bit 0: written
//	         after the HTTP drain at shutdown), created i64 (Unix ns), CAS high
//	         water u64, shard count u32, CRC of the 36 bytes before it u32
//	blocks   a 16-byte block header (kind u8 'R', 3 zero bytes, section u32,
//	         payload length u32, CRC of the 12 header bytes before it and the
//	         payload u32), then the payload: whole records, back to back
//	trailer  one block of kind 'T' whose payload is, per section, the file
//	         offset of its first block u64, its length in bytes u64 and its
//	         record count u64
//	footer   16 bytes: trailer offset u64, CRC of those 8 bytes and the
//	         header's CRC u32, magic "MCH!"
//
// A record is a 36-byte head (kind u8; marks u8: bit 0 a delete lock, bit
// 1 read since written, bit 2 stale, bit 3 recache lease handed out;
// namespace length u8, key length u8, value length u32, flags u32, CAS id
// u64, expiry i64 Unix seconds with 0 for never, last access i64 Unix
// seconds) followed by the namespace, key and value bytes. A section holds one shard's records in
// ascending access order, so a loader that merges the sections restores the
// least recently used first and, when the memory limit is smaller than the
// snapshot, the engine drops those first.
//
// A reader checks the header and footer before anything else, so a foreign
// or truncated file is refused before a record is read, and checks each
// block's CRC before decoding it.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// ErrCorrupt says a file is not a complete, intact snapshot this version
// can read: foreign, truncated, damaged or from a newer version.
var ErrCorrupt = errors.New("snapshot: not a valid snapshot")

const (
	magic      = "MCHTSNAP"
	endMagic   = "MCH!"
	version    = 1
	headerLen  = 40
	footerLen  = 16
	blockHead  = 16
	recordHead = 36
	sectionLen = 24
	kindBlock  = 'R'
	kindTrail  = 'T'
	// blockTarget is the payload a block is closed at; a record larger
	// than it gets a block of its own.
	blockTarget = 1 << 20
	// flagFinal marks a snapshot written after the HTTP drain: no write
	// can have followed it.
	flagFinal = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the fixed start of a snapshot file.
type header struct {
	flags   uint32
	created int64
	casHigh uint64
	shards  uint32
}

func (h header) encode() []byte {
	b := make([]byte, headerLen)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], h.flags)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.created))
	binary.LittleEndian.PutUint64(b[24:], h.casHigh)
	binary.LittleEndian.PutUint32(b[32:], h.shards)
	binary.LittleEndian.PutUint32(b[36:], crc32.Checksum(b[:36], castagnoli))
	return b
}

func decodeHeader(b []byte) (header, error) {
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return header{}, fmt.Errorf("%w: no snapshot magic at the start: a file from another program", ErrCorrupt)
	}
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: truncated in the header", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return header{}, fmt.Errorf("%w: format version %d, this build reads version %d", ErrCorrupt, v, version)
	}
	if crc32.Checksum(b[:36], castagnoli) != binary.LittleEndian.Uint32(b[36:]) {
		return header{}, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	return header{
		flags:   binary.LittleEndian.Uint32(b[12:]),
		created: int64(binary.LittleEndian.Uint64(b[16:])),
		casHigh: binary.LittleEndian.Uint64(b[24:]),
		shards:  binary.LittleEndian.Uint32(b[32:]),
	}, nil
}

func encodeFooter(trailerOff uint64, headerCRC uint32) []byte {
	b := make([]byte, footerLen)
	binary.LittleEndian.PutUint64(b, trailerOff)
	binary.LittleEndian.PutUint32(b[8:], footerCRC(b[:8], headerCRC))
	copy(b[12:], endMagic)
	return b
}

func footerCRC(off []byte, headerCRC uint32) uint32 {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], headerCRC)
	return crc32.Update(crc32.Checksum(off, castagnoli), castagnoli, h[:])
}

// section locates one shard's blocks.
type section struct {
	first, bytes, records uint64
}

// blockHeader fills the 16-byte head of a block whose payload is p.
func blockHeader(dst []byte, kind byte, sec uint32, p []byte) {
	dst[0], dst[1], dst[2], dst[3] = kind, 0, 0, 0
	binary.LittleEndian.PutUint32(dst[4:], sec)
	binary.LittleEndian.PutUint32(dst[8:], uint32(len(p)))
	binary.LittleEndian.PutUint32(dst[12:], crc32.Update(crc32.Checksum(dst[:12], castagnoli), castagnoli, p))
}

// checkBlock verifies a block's checksum against its head.
func checkBlock(head, p []byte) bool {
	return crc32.Update(crc32.Checksum(head[:12], castagnoli), castagnoli, p) == binary.LittleEndian.Uint32(head[12:])
}

// appendRecord appends r's encoding to b.
func appendRecord(b []byte, r *cache.Record) []byte {
	var h [recordHead]byte
	h[0] = byte(r.Kind)
	for bit, on := range [...]bool{r.Lock, r.Fetched, r.Stale, r.Lease} {
		if on {
			h[1] |= 1 << bit
		}
	}
	h[2], h[3] = byte(len(r.Namespace)), byte(len(r.Name))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(r.Value)))
	binary.LittleEndian.PutUint32(h[8:], r.Flags)
	binary.LittleEndian.PutUint64(h[12:], r.CAS)
	binary.LittleEndian.PutUint64(h[20:], uint64(r.Expires))
	binary.LittleEndian.PutUint64(h[28:], uint64(r.Access))
	b = append(b, h[:]...)
	b = append(b, r.Namespace...)
	b = append(b, r.Name...)
	return append(b, r.Value...)
}

// decodeRecord reads the record at the start of b into r, whose slices
// then alias b, and returns its encoded length.
func decodeRecord(b []byte, r *cache.Record) (int, error) {
	if len(b) < recordHead {
		return 0, fmt.Errorf("%w: a record head crosses its block's end", ErrCorrupt)
	}
	nsLen, keyLen := int(b[2]), int(b[3])
	valLen := uint64(binary.LittleEndian.Uint32(b[4:]))
	n := uint64(recordHead) + uint64(nsLen) + uint64(keyLen) + valLen
	if n > uint64(len(b)) {
		return 0, fmt.Errorf("%w: a record crosses its block's end", ErrCorrupt)
	}
	if b[1] > 15 {
		return 0, fmt.Errorf("%w: record marks %#x", ErrCorrupt, b[1])
	}
	r.Kind = cache.Kind(b[0])
	r.Lock, r.Fetched, r.Stale, r.Lease = b[1]&1 != 0, b[1]&2 != 0, b[1]&4 != 0, b[1]&8 != 0
	r.Flags = binary.LittleEndian.Uint32(b[8:])
	r.CAS = binary.LittleEndian.Uint64(b[12:])
	r.Expires = int64(binary.LittleEndian.Uint64(b[20:]))
	r.Access = int64(binary.LittleEndian.Uint64(b[28:]))
	p := b[recordHead:n]
	r.Namespace, r.Name = p[:nsLen:nsLen], p[nsLen:nsLen+keyLen:nsLen+keyLen]
	r.Value = p[nsLen+keyLen:]
	return int(n), nil
}
