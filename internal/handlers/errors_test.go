package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// TestWireMessagesAreBuiltFromData: the wire message comes from an error's
// data (an apiError's reason, a cache sentinel's words, a cache.InputError's
// reason), so rewording or rewrapping the Go error text changes nothing on
// the wire.
func TestWireMessagesAreBuiltFromData(t *testing.T) {
	tooLong := cache.Refuse(cache.ErrKeyTooLong, "300 bytes, at most 250 allowed")
	for _, tt := range []struct {
		name string
		errs []error // the same data under different Go texts
		want string
	}{
		{"an input error under any wrapping", []error{
			tooLong,
			fmt.Errorf("get: key %q: %w", "k", tooLong),
			fmt.Errorf("handlers: something else entirely (%w) and more", tooLong),
		}, "key too long: 300 bytes, at most 250 allowed"},
		{"an invalid argument is its reason alone", []error{
			cache.Refuse(cache.ErrInvalidArgument, "time must not be negative"),
			onField("time", fmt.Errorf("set: %w", cache.Refuse(cache.ErrInvalidArgument, "time must not be negative"))),
		}, "time must not be negative"},
		{"a bare sentinel is its words", []error{
			cache.ErrNotFound,
			fmt.Errorf("delete: %w", cache.ErrNotFound),
			fmt.Errorf("redisstore: get %q: %w", "k", cache.ErrNotFound),
		}, "not found"},
		{"a backend's own error text never reaches the wire", []error{
			fmt.Errorf("redisstore: get: %w: %w", cache.ErrUnavailable, errors.New("dial tcp 10.0.0.7:6379: connection refused")),
			fmt.Errorf("%w", cache.ErrUnavailable),
		}, "backend unavailable"},
		{"an apiError's reason, whatever its chain", []error{
			&apiError{status: http.StatusBadRequest, reason: "flags go in the JSON body", err: errors.New("x")},
			fmt.Errorf("wrapped: %w", &apiError{status: http.StatusBadRequest, reason: "flags go in the JSON body", err: errors.New("y")}),
		}, "flags go in the JSON body"},
		{"a precondition takes the words of the rule behind it", []error{
			writeRule{conditional: true}.failed(fmt.Errorf("memory: %w", cache.ErrCASMismatch)),
		}, "cas mismatch"},
		{"a server bug says nothing of its cause", []error{
			errors.New("handlers: nil pointer in the fast path"),
		}, "internal server error"},
	} {
		for _, err := range tt.errs {
			d := detail(err)
			assert.Equal(t, tt.want, d.Message, "%s: %v", tt.name, err)
		}
	}
	d := detail(onField("items[3].key", fmt.Errorf("set_multi: %w", tooLong)))
	if assert.NotNil(t, d.Field) {
		assert.Equal(t, "items[3].key", *d.Field, "the field is data too")
	}
	assert.Equal(t, "key_too_long", string(d.Code))
}
