package analytics

import (
	"context"
	"errors"
	"fmt"
)

// PROVISIONAL: the API of EnqueueContext, Encode and EnqueueEncoded, fixed so
// that the outbox and the CLI can be built against it; the delivery-core
// rewrite replaces these bodies (a fair FIFO of waiters woken as room frees,
// no refusal counted per wait).

// EnqueueContext is Enqueue, except that when the queue is at its bound it
// waits for room until ctx ends; then it returns an error that matches both
// ErrQueueFull and ctx.Err(). It never waits on a closed or closing client
// (ErrClosed at once).
func (c *Client) EnqueueContext(ctx context.Context, msg Message) error {
	for {
		room := c.b.roomChan()
		err := c.Enqueue(msg)
		if !errors.Is(err, ErrQueueFull) {
			return err
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}

// Encoded is a message validated, stamped and encoded exactly as Enqueue
// sends it.
type Encoded struct {
	// Data is the message's JSON encoding, exactly the bytes sent.
	Data []byte
	// Info identifies the message (MessageID, Type, Event).
	Info MessageInfo
}

// Encode validates msg and stamps and encodes it as Enqueue does (same
// errors, same bytes), without queueing it.
func (c *Client) Encode(msg Message) (Encoded, error) {
	data, id, err := encodeMessage(msg, &c.stamp)
	if err != nil {
		return Encoded{}, err
	}
	if max := c.b.maxMessage; len(data) > max {
		return Encoded{}, &TooLargeError{Size: len(data), Limit: max}
	}
	return Encoded{Data: data, Info: infoOf(msg, id)}, nil
}

// EnqueueEncoded queues a message encoded by Encode (possibly by another
// process), waiting for room as EnqueueContext does. done, when not nil, is
// called exactly once with the message's final outcome (Delivered, Failed or
// Spooled), from a client goroutine; it is not called when EnqueueEncoded
// returns an error.
func (c *Client) EnqueueEncoded(ctx context.Context, e Encoded, done func(Report)) error {
	if len(e.Data) == 0 || e.Data[0] != '{' || e.Info.MessageID == "" {
		return &ValidationError{Type: e.Info.Type, Event: e.Info.Event, Err: fmt.Errorf("%w: not an encoded message", ErrInvalidValue)}
	}
	if max := c.b.maxMessage; len(e.Data) > max {
		return &TooLargeError{Size: len(e.Data), Limit: max}
	}
	for {
		room := c.b.roomChan()
		err := c.b.add(item{data: e.Data, info: e.Info, done: done})
		if !errors.Is(err, ErrQueueFull) {
			return err
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}
