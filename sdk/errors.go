package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// The sentinel errors, named after App Engine's Go API
// (google.golang.org/appengine/memcache). Methods wrap them with the operation
// and key, so compare them with errors.Is.
var (
	// ErrCacheMiss means no live item was there: Get, Gets, GetAs, Incr, Decr
	// and Delete return it for a missing, expired or delete-locked key.
	ErrCacheMiss = errors.New("sdk: cache miss")

	// ErrNotStored means a conditional store's condition did not hold: Add on
	// a live or locked key, Replace on a missing or locked one, or CAS on a key
	// this Client holds no CAS id for (fetch it with Gets first).
	ErrNotStored = errors.New("sdk: item not stored")

	// ErrCASConflict means CAS lost: the item changed, expired, was deleted or
	// was locked after this Client fetched it.
	ErrCASConflict = errors.New("sdk: compare-and-swap conflict")

	// ErrNotANumber means Incr or Decr found a value that is not an unsigned
	// 64-bit decimal integer.
	ErrNotANumber = errors.New("sdk: value is not a number")

	// ErrServerError means the server failed (a 5xx answer) or sent an answer
	// this client cannot read.
	ErrServerError = errors.New("sdk: server error")

	// ErrNoStats means GetStats got no statistics; the error also wraps the cause.
	ErrNoStats = errors.New("sdk: no statistics available")

	// ErrInvalidArgument means a key, namespace, option, value or destination
	// was refused, by this client before sending or by the server (400, 413).
	ErrInvalidArgument = errors.New("sdk: invalid argument")
)

// Error is an error answer from the server, in the API's one error shape. It
// matches ErrServerError for 5xx answers and ErrInvalidArgument for 400 and 413.
type Error struct {
	StatusCode int    // the HTTP status
	Code       string // the API's error code, e.g. "value_too_large"
	Message    string // human-readable detail; not a stable interface
	Field      string // the request field at fault, when the server names one
}

// Error describes the answer.
func (e *Error) Error() string {
	msg := fmt.Sprintf("sdk: server answered %d %s: %s", e.StatusCode, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// Is lets errors.Is match an answer against the sentinels it stands for.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrServerError:
		return e.StatusCode >= http.StatusInternalServerError
	case ErrInvalidArgument:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusRequestEntityTooLarge
	}
	return false
}

// answerError turns a non-success answer into an *Error, reading the API's
// error shape when the body has it and falling back to the status alone.
func answerError(status int, body []byte) error {
	e := &Error{StatusCode: status, Code: "unknown", Message: http.StatusText(status)}
	var shaped client.Error
	if json.Unmarshal(body, &shaped) == nil && shaped.Error.Code != "" {
		e.Code, e.Message = string(shaped.Error.Code), shaped.Error.Message
		if shaped.Error.Field != nil {
			e.Field = *shaped.Error.Field
		}
	}
	return e
}

// errUnreadable reports a success status whose body did not match the contract.
func errUnreadable(status int) error {
	return fmt.Errorf("%w: unreadable %d answer", ErrServerError, status)
}

// invalidf reports a caller mistake caught before sending, as ErrInvalidArgument.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("sdk: "+format+": %w", append(args, ErrInvalidArgument)...)
}
