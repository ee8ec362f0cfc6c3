package redisstore

import (
	"errors"
	"strconv"
	"strings"
)

// An item is kept in Redis as one string (itemLua is its Lua twin):
//
//	g,e,k,f,c,r,m,l|value
//
// generation, expires (Unix s, 0 = never), kind, flags, cas, when the idle
// TTL was last set (Unix s, empty when never), the meta protocol's marks
// (letters h, x, w; see scripts.go) or the accounted mark (a, below) and
// locked-until (Unix s, empty but for
// a delete lock, whose value is empty). The header is decimal text so the
// scripts read it with one pattern match; the value follows the first '|'
// as it is, whatever bytes it holds.

// itemHeader is an item string's fields before its value.
type itemHeader struct {
	gen, exp, kind, flags, cas, renewed, marks, lock string
}

// errBadItem says an item key holds a string that is not an item.
var errBadItem = errors.New("malformed item string")

// parseItem splits an item string into its header and value, neither copied.
func parseItem(s string) (itemHeader, string, error) {
	head, value, ok := strings.Cut(s, "|")
	if !ok {
		return itemHeader{}, "", errBadItem
	}
	var f [8]string
	for i := range 7 {
		var more bool
		f[i], head, more = strings.Cut(head, ",")
		if !more {
			return itemHeader{}, "", errBadItem
		}
	}
	f[7] = head
	return itemHeader{gen: f[0], exp: f[1], kind: f[2], flags: f[3], cas: f[4], renewed: f[5], marks: f[6], lock: f[7]}, value, nil
}

// accountedMark marks an item string as counted in the bucket's accounting
// at its size (its sz entry, items and bytes), or as about to be: a plain
// set writes it on every new item and, when the item it replaced did not
// carry it at the same size (accountedAs), leaves the new one to its
// process's sync, which accounts the item as it then finds it, whoever
// wrote it since. A set that replaces a marked item of the same size,
// neither expiring, leaves the sync nothing: if the old item was accounted
// so is the new one, and if it was about to be, the sync that will account
// it reads the new one. A script that accounts an item marks it; one that
// rewrites an item at another size without accounting it (none does today)
// would have to drop the mark. What the mark cannot see: a process that
// dies with sets to account, or a Redis that loses the sync's write but
// keeps the item (a failover to a replica behind, a restart from an
// append-only file synced each second), leaves the item uncounted while it
// is set again at the same size, until it is deleted, set at another size
// or flushed; a process whose failed syncs had to drop sets (putBack)
// ignores the mark in that bucket until a flush.
const accountedMark = 'a'

// appendItem appends the item string of a live item to dst, carrying only
// the accounted mark.
func appendItem(dst []byte, gen, exp int64, kind uint8, flags uint32, cas uint64, renewed int64, value []byte) []byte {
	dst = strconv.AppendInt(dst, gen, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, exp, 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(kind), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(flags), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, cas, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, renewed, 10)
	dst = append(dst, ",a,|"...)
	return append(dst, value...)
}

// markedHeader returns header, an item string's header up to and including
// its '|', with the hit-before mark added to its marks.
func markedHeader(header string) string {
	// The marks end at the seventh comma.
	at := 0
	for range 7 {
		at += strings.IndexByte(header[at:], ',') + 1
	}
	return header[:at-1] + "h" + header[at-1:]
}
