// Package ganger holds the domain vocabulary shared by every other package
// of ganger: the closed set of error kinds and the helpers that build and
// inspect them. It imports nothing of ours; adapters (httpapi, cmd) map the
// kinds to their own wire forms in one place each.
package ganger

import (
	"errors"
	"fmt"
)

// Error codes: the closed set of kinds an error can have. The strings are
// the "error" field of the API's JSON error body.
const (
	EBADREQUEST   = "bad_request"
	EINVALID      = "invalid_config"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "payload_too_large"
	EINTERNAL     = "internal"
	EUNAVAILABLE  = "unavailable" // shutting down, or a store that cannot be reached
)

// Error is an error with a kind and a message that is safe to show a user.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain,
// EINTERNAL for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, or a generic text for any other error (whose details may be
// internal and are meant for the log, not the client).
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
