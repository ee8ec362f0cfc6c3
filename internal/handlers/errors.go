package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// apiError is an error that already knows its wire status and code: the
// handlers' own input errors, and cache errors re-labelled where the HTTP
// meaning differs (a failed If-Match is precondition_failed, not cas_mismatch).
// Its field and reason are data: the wire error is built from them (see
// detail), never from err's text, which is for the log line only.
type apiError struct {
	status int
	code   gen.ErrorDetailCode
	field  string // the request member, parameter or header at fault; "" for the request as a whole
	reason string // what is wrong, in users' words; "" takes the words of err's cache error (see message)
	err    error  // the full chain, for the log line
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

// invalid reports malformed input in field; the message is the formatted text.
func invalid(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return badRequest(field, msg, errors.New(msg))
}

// badRequest reports malformed input in field with a wire message, keeping
// cause for the log line.
func badRequest(field, msg string, cause error) *apiError {
	return &apiError{
		status: http.StatusBadRequest,
		code:   gen.ErrorDetailCodeInvalidArgument,
		field:  field,
		reason: msg,
		err:    fmt.Errorf("handlers: %w", cause),
	}
}

// onField attaches the request field at fault to a cache error, keeping the
// status and code its sentinel maps to.
func onField(field string, err error) error {
	if err == nil {
		return nil
	}
	status, code := classify(err)
	reason := ""
	if ae, ok := errors.AsType[*apiError](err); ok {
		reason = ae.reason // already worded for the user; keep it
	}
	return &apiError{status: status, code: code, field: field, reason: reason, err: err}
}

// sentinels maps the cache package's errors to their wire status, code and
// words; it is the spec's table of error codes, kept in one place. A cache.InputError's
// reason follows the words ("key too long: 300 bytes, at most 250
// allowed"), or stands alone where the words are "".
var sentinels = []struct {
	err    error
	status int
	code   gen.ErrorDetailCode
	words  string
}{
	{cache.ErrKeyTooLong, http.StatusBadRequest, gen.ErrorDetailCodeKeyTooLong, "key too long"},
	{cache.ErrInvalidArgument, http.StatusBadRequest, gen.ErrorDetailCodeInvalidArgument, ""},
	{cache.ErrNotFound, http.StatusNotFound, gen.ErrorDetailCodeNotFound, "not found"},
	{cache.ErrExists, http.StatusConflict, gen.ErrorDetailCodeExists, "item exists"},
	{cache.ErrNotANumber, http.StatusConflict, gen.ErrorDetailCodeNotANumber, "value is not an unsigned 64-bit decimal integer"},
	{cache.ErrCASMismatch, http.StatusPreconditionFailed, gen.ErrorDetailCodeCasMismatch, "cas mismatch"},
	{cache.ErrValueTooLarge, http.StatusRequestEntityTooLarge, gen.ErrorDetailCodeValueTooLarge, "value too large"},
	{cache.ErrUnavailable, http.StatusServiceUnavailable, gen.ErrorDetailCodeUnavailable, "backend unavailable"},
}

// classify returns the status and code err leaves with; anything unknown is
// a server bug (500 internal).
func classify(err error) (int, gen.ErrorDetailCode) {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.status, ae.code
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, gen.ErrorDetailCodeBatchTooLarge
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.status, s.code
		}
	}
	return http.StatusInternalServerError, gen.ErrorDetailCodeInternal
}

// detail builds the wire error body of err.
func detail(err error) gen.ErrorDetail {
	status, code := classify(err)
	d := gen.ErrorDetail{Code: code, Message: message(err, status)}
	if ae, ok := errors.AsType[*apiError](err); ok && ae.field != "" {
		d.Field = &ae.field
	}
	return d
}

// message is the wire message of err, built from data only: an apiError's
// reason, or the words of err's cache sentinel followed by the reason of its
// cache.InputError. The Go error text (operation and key wrappers, package
// prefixes, a backend's own error) stays in the log line. Server errors say
// nothing of their cause.
func message(err error, status int) string {
	if status == http.StatusInternalServerError {
		return "internal server error"
	}
	if ae, ok := errors.AsType[*apiError](err); ok && ae.reason != "" {
		return ae.reason
	}
	words := ""
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			words = s.words
			break
		}
	}
	ie, ok := errors.AsType[*cache.InputError](err)
	switch {
	case !ok:
		if words == "" {
			return "the request is not valid"
		}
		return words
	case words == "":
		return ie.Reason
	default:
		return words + ": " + ie.Reason
	}
}

// writeError sends err in the one error shape. Server bugs are logged, since
// the client cannot act on them.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if sw := recorder(w); sw != nil {
		sw.err = err
	}
	if clientGone(r) {
		// The error is the client's leaving (a store call canceled with
		// the request, a body cut off), not the backend's or ours, and
		// nobody is left to read an answer; observe logs and counts 499.
		return
	}
	status, _ := classify(err)
	if status == http.StatusInternalServerError {
		slog.ErrorContext(r.Context(), "handlers: internal error", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
	}
	body, merr := json.Marshal(gen.Error{Error: detail(err)})
	if merr != nil {
		// An ErrorDetail holds only strings; marshalling it cannot fail.
		panic(fmt.Sprintf("handlers: marshal error body: %v", merr))
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", noStore)
	// A declared length lets a refusal's connection close right after it.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusClientClosedRequest is what a request whose client went away before
// its answer is logged and counted as (nginx's 499); it is never sent.
const statusClientClosedRequest = 499

// clientGone reports whether r's client went away before its answer:
// net/http cancels a request's context when its connection closes or fails,
// and nothing else here cancels one.
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// recorder finds observe's writer under w (HEAD wraps it), where the
// request's log line picks up the error.
func recorder(w http.ResponseWriter) *statusWriter {
	for {
		switch x := w.(type) {
		case *statusWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// paramError is the generated router's ErrorHandlerFunc: a path, query or
// header parameter that does not bind is the client's fault.
func paramError(w http.ResponseWriter, r *http.Request, err error) {
	field := ""
	if e, ok := errors.AsType[*gen.InvalidParamFormatError](err); ok {
		field = e.ParamName
	} else if e, ok := errors.AsType[*gen.TooManyValuesForParamError](err); ok {
		field = e.ParamName
	} else if e, ok := errors.AsType[*gen.RequiredParamError](err); ok {
		field = e.ParamName
	} else if e, ok := errors.AsType[*gen.RequiredHeaderError](err); ok {
		field = e.ParamName
	} else if e, ok := errors.AsType[*gen.UnmarshalingParamError](err); ok {
		field = e.ParamName
	}
	if field == "" {
		writeError(w, r, badRequest("", "a parameter is not valid", err))
		return
	}
	if n := len(r.URL.Query()[field]); n > 1 {
		// Which of the values was meant is a guess; the first one may be
		// valid, so saying it is not would mislead.
		writeError(w, r, badRequest(field, fmt.Sprintf("%s is given %d times; send it once", field, n), err))
		return
	}
	if _, ok := errors.AsType[*gen.RequiredParamError](err); ok {
		writeError(w, r, badRequest(field, fmt.Sprintf("%s is required: %s", field, wantedOf(field)), err))
		return
	}
	writeError(w, r, mustBe(field, strconv.Quote(paramValue(r, field)), err))
}

// paramValue is the text a query, header or path parameter came with.
func paramValue(r *http.Request, name string) string {
	if v, ok := r.URL.Query()[name]; ok && len(v) > 0 {
		return v[0]
	}
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return chi.URLParam(r, name)
}

// requestError is the strict server's RequestErrorHandlerFunc: a body that
// does not decode. A body cut off by the size limit is too large, not malformed.
func requestError(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeError(w, r, tooLarge(w, err))
		return
	}
	field, msg := "", "the request body does not decode"
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if e.Field != "" {
			writeError(w, r, mustBe(typeErrorField(r, e), jsonKind(e.Value), err))
			return
		}
		msg = fmt.Sprintf("the request body must be a JSON object, not %s", jsonKind(e.Value))
	} else if errors.Is(err, io.EOF) {
		msg = "the request body is empty"
	} else if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		msg = "the request body is not valid JSON: " + e.Error()
	}
	writeError(w, r, badRequest(field, msg, err))
}

// typeErrorField is the wire path of the member e refuses: items[1].flags
// where encoding/json says items.flags, offsets.hits where it says offsets.
// It keeps e's Field when the body is not at hand or the two disagree, and
// for an element of an array (items[0] where an object was wanted), whose
// form is worded by its array's name.
func typeErrorField(r *http.Request, e *json.UnmarshalTypeError) string {
	rb, ok := r.Body.(*replayBody)
	if !ok {
		return e.Field
	}
	p := pathAt(rb.data, int(e.Offset))
	bare := index.ReplaceAllString(p, "")
	if p == "" || strings.HasSuffix(p, "]") || bare != e.Field && !strings.HasPrefix(bare, e.Field+".") {
		return e.Field
	}
	return p
}

// responseError is the strict server's ResponseErrorHandlerFunc: the error a
// handler returned, or a response that failed to encode.
func responseError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err)
}

// tooLarge labels a body over the size limit: on a single key it is the
// value that is too large, elsewhere the batch.
func tooLarge(w http.ResponseWriter, err error) error {
	code, what, field := gen.ErrorDetailCodeBatchTooLarge, "the batch request body", ""
	if sw := recorder(w); sw != nil && routes[sw.m.op].body == bodySingleKey {
		code, what = gen.ErrorDetailCodeValueTooLarge, "the request body (a single value)"
		if sw.m.op == opSet {
			field = "value"
		}
	}
	msg := what + " is too large"
	if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
		msg = fmt.Sprintf("%s is larger than the limit of %d bytes", what, mb.Limit)
	}
	return &apiError{status: http.StatusRequestEntityTooLarge, code: code, field: field, reason: msg, err: fmt.Errorf("handlers: request body: %w", err)}
}
