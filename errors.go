package analytics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error Enqueue returns wraps one of the first nine
// (or ErrSpool, for a spool that cannot be written); delivery reports wrap
// one of the last three. Test with errors.Is.
var (
	// ErrClosed means the client is closed, or closing, and accepts no more messages.
	ErrClosed = errors.New("analytics: client is closed")
	// ErrQueueFull means the queue holds its message or byte bound
	// (WithMaxQueue) or the spool its byte bound (WithSpool): the message
	// was refused and nothing was queued. The error is a *QueueFullError
	// that names the bound.
	ErrQueueFull = errors.New("analytics: queue is full")
	// ErrMessageTooLarge means the encoded message is over 32,000 bytes,
	// the most the endpoint accepts; a *TooLargeError carries the size.
	ErrMessageTooLarge = errors.New("analytics: message is larger than 32000 bytes")
	// ErrNilMessage means Enqueue was given a nil Message or a nil pointer to one.
	ErrNilMessage = errors.New("analytics: message is nil")
	// ErrMissingID means the message has neither UserID nor AnonymousID;
	// every call but Alias needs one of them.
	ErrMissingID = errors.New("analytics: userId or anonymousId is required")
	// ErrMissingField means a field the call type requires is empty:
	// Track.Event, Group.GroupID, Alias.UserID or Alias.PreviousID. The
	// *ValidationError names it.
	ErrMissingField = errors.New("analytics: required field is empty")
	// ErrInvalidValue means a value cannot be sent as it is: NaN or ±Inf,
	// invalid UTF-8, a negative amount, quantity, position or step, a
	// currency that is not three ASCII letters, a custom value
	// encoding/json cannot encode (or whose MarshalJSON panics), or an id
	// or time made by the WithMessageIDs or WithClock function that is not
	// valid. The *ValidationError names the field.
	ErrInvalidValue = errors.New("analytics: invalid value")
	// ErrPropertyConflict means a custom property, trait or context key
	// duplicates one the SDK writes itself: a property of the ecommerce
	// event's spec table (or a v1 or camelCase spelling of one), a reserved
	// trait set through the typed traits, or context.library.
	ErrPropertyConflict = errors.New("analytics: property set twice")
	// ErrMessageIDTooLong means MessageID is longer than 100 characters,
	// the longest Segment accepts.
	ErrMessageIDTooLong = errors.New("analytics: messageId is longer than 100 characters")

	// ErrRetriesExhausted means delivery was abandoned after the
	// configured attempts or total retry time (WithRetry); it wraps the
	// last attempt's error.
	ErrRetriesExhausted = errors.New("analytics: retries exhausted")
	// ErrRejected means the endpoint refused the batch with an answer that
	// is never retried (401, 403, 404, an HTML page, a 400 after
	// bisecting, ...); it wraps the *HTTPError.
	ErrRejected = errors.New("analytics: endpoint rejected the batch")
	// ErrDeadline means Close's context ended before the message could be
	// delivered; it is reported as not delivered.
	ErrDeadline = errors.New("analytics: close deadline reached before delivery")
)

// ValidationError says which message field made Enqueue refuse a message.
// It wraps one of ErrMissingID, ErrMissingField, ErrInvalidValue,
// ErrPropertyConflict or ErrMessageIDTooLong.
type ValidationError struct {
	Type  string // the call type: "track", "identify", ...
	Event string // the Track event name, if any
	Field string // the offending field, e.g. "properties.products[0].price"
	Err   error
}

func (e *ValidationError) Error() string {
	s := "analytics: invalid " + e.Type
	if e.Event != "" {
		s += " " + strconv.Quote(e.Event)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

func (e *ValidationError) Unwrap() error { return e.Err }

// fieldError is returned by the typed ecommerce properties' validation and
// wrapped into a ValidationError by Enqueue; it names the field relative to
// properties (e.g. "products[1].price").
type fieldError struct {
	Field string
	Err   error
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *fieldError) Unwrap() error { return e.Err }

// TooLargeError is returned when an encoded message exceeds the limit. It wraps ErrMessageTooLarge.
type TooLargeError struct {
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("analytics: message is %d bytes, over the %d-byte limit", e.Size, e.Limit)
}

func (e *TooLargeError) Unwrap() error { return ErrMessageTooLarge }

// ConfigError is returned by New for an invalid option.
type ConfigError struct {
	Option string // e.g. "WithBatchSize"
	Reason string
}

func (e *ConfigError) Error() string {
	return "analytics: " + e.Option + ": " + e.Reason
}

// UndeliveredError is returned by Flush and Close when messages could not be
// delivered: Close's context ended, retries ran out, or the endpoint refused
// them. Every one of them was also reported to the delivery callback. Its
// Error is one line; the reasons are behind errors.Is and errors.As.
type UndeliveredError struct {
	// Count is the number of messages not delivered:
	// Rejected + Exhausted + Deadline + Spooled.
	Count int
	// Rejected were refused by the endpoint for good (ErrRejected).
	Rejected int
	// Exhausted ran out of attempts or retry time (ErrRetriesExhausted).
	Exhausted int
	// Deadline were still undelivered when Close's context ended (ErrDeadline).
	Deadline int
	// Spooled is how many are kept in the spool (WithSpool) and will be
	// delivered by the next Client started with the same directory.
	Spooled int
	// Err joins the distinct reasons (the context's error, the
	// *HTTPError, ...), latest last.
	Err error
}

func (e *UndeliveredError) Error() string {
	msg := "analytics: " + plural(e.Count, "message") + " not delivered"
	var parts []string
	for _, p := range [...]struct {
		n    int
		what string
	}{{e.Rejected, "rejected"}, {e.Exhausted, "retries exhausted"}, {e.Deadline, "deadline"}, {e.Spooled, "kept in the spool"}} {
		if p.n > 0 {
			parts = append(parts, strconv.Itoa(p.n)+" "+p.what)
		}
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, ", ") + ")"
	}
	if reasons := unjoin(e.Err); len(reasons) > 0 {
		msg += ": " + oneLine(reasons[len(reasons)-1].Error())
		if len(reasons) > 1 {
			msg += " (and " + plural(len(reasons)-1, "other reason") + ")"
		}
	}
	return msg
}

func (e *UndeliveredError) Unwrap() error { return e.Err }

// unjoin lists the errors joined in err (err itself when not joined).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
