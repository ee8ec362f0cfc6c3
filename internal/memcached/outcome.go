package memcached

import (
	"errors"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// outcome is what a store call came to, in the terms both protocols answer in.
type outcome int

const (
	outOK          outcome = iota
	outNotStored           // the storage rule was not met (add over an item, replace of none)
	outExists              // a CAS id did not match a live item
	outNotFound            // no live item
	outTooLarge            // the value is over the value limit
	outNotNumber           // incr/decr of a value that is not a number
	outBadInput            // the store refused the request as malformed
	outBusy                // no memory to buffer the value now
	outUnavailable         // the backend cannot be reached
	outFailed              // anything else
)

// textWords and metaWords are the wire words of each outcome: the one place
// that names them. Storage and arithmetic commands answer with these; a
// command whose success has its own word (DELETED, TOUCHED) says so itself.
var (
	textWords = [...]string{
		outOK:          "STORED",
		outNotStored:   "NOT_STORED",
		outExists:      "EXISTS",
		outNotFound:    "NOT_FOUND",
		outTooLarge:    "SERVER_ERROR object too large for cache",
		outNotNumber:   "CLIENT_ERROR cannot increment or decrement non-numeric value",
		outBadInput:    "CLIENT_ERROR bad command line format",
		outBusy:        "SERVER_ERROR out of memory storing object",
		outUnavailable: "SERVER_ERROR backend unavailable",
		outFailed:      "SERVER_ERROR internal error",
	}
	metaWords = [...]string{
		outOK:          "HD",
		outNotStored:   "NS",
		outExists:      "EX",
		outNotFound:    "NF",
		outTooLarge:    textWords[outTooLarge],
		outNotNumber:   textWords[outNotNumber],
		outBadInput:    textWords[outBadInput],
		outBusy:        textWords[outBusy],
		outUnavailable: textWords[outUnavailable],
		outFailed:      textWords[outFailed],
	}
)

// isError reports whether an outcome is answered as an error line; meta
// commands show those even in quiet mode, as memcached does.
func (o outcome) isError() bool { return o >= outTooLarge }

// classify maps a store error to an outcome. A write that found nothing
// is NOT_STORED for add/replace/append/prepend; what a CAS mismatch means
// depends on whether the item is there, which the caller finds out
// (casOutcome).
func classify(err error) outcome {
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, cache.ErrExists), errors.Is(err, cache.ErrNotFound):
		return outNotStored
	case errors.Is(err, cache.ErrCASMismatch):
		return outExists
	case errors.Is(err, cache.ErrValueTooLarge):
		return outTooLarge
	case errors.Is(err, cache.ErrNotANumber):
		return outNotNumber
	case errors.Is(err, cache.ErrInvalidArgument), errors.Is(err, cache.ErrKeyTooLong):
		return outBadInput
	case errors.Is(err, cache.ErrUnavailable):
		return outUnavailable
	default:
		return outFailed
	}
}

// lookup maps the error of a call whose miss is NOT_FOUND (delete, touch,
// incr, cas on a missing item, meta commands).
func lookup(err error) outcome {
	if errors.Is(err, cache.ErrNotFound) {
		return outNotFound
	}
	return classify(err)
}
