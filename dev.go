package analytics

import (
	"context"
	"encoding/json"
	"log/slog"
)

// WithoutWriteKey lets New run without a write key, for development and for
// services deployed where analytics is off: when the write key given to New
// is empty, the client does not fail but works exactly as usual (every
// message validated, stamped, encoded, size-checked, batched and accounted,
// Enqueue refusing the same messages with the same errors) and hands each
// batch to l instead of the network: one Info record per message,
// "analytics: not sent (no write key)", with its type, event, messageId and
// JSON. Nothing is sent anywhere. Those messages count as Delivered in Stats
// and reach the delivery callback as Delivered: delivered to the log, which
// is where this client delivers. New logs once, at Warn, that no write key
// was given. A nil l discards the messages instead of logging them (still
// counted Delivered), as zap.NewNop does.
//
// With a non-empty write key, WithoutWriteKey does nothing: the same code
// sends to Segment in production and logs in development, with no if around
// New:
//
//	client, err := analytics.New(os.Getenv("SEGMENT_WRITE_KEY"), analytics.WithoutWriteKey(slog.Default()))
//
// An explicit WithTransport, before or after, takes precedence. Default: off
// (New fails with a *ConfigError when the write key is empty).
func WithoutWriteKey(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if c.writeKey != "" || c.transport != nil {
			return nil
		}
		if l == nil {
			c.transport = TransportFunc(func(context.Context, *Batch) error { return nil })
			return nil
		}
		l.Warn("analytics: no write key; messages are validated and logged, not sent")
		c.transport = logTransport{l}
		return nil
	})
}

// logTransport logs every message of a batch instead of sending it.
type logTransport struct{ l *slog.Logger }

func (t logTransport) Send(ctx context.Context, b *Batch) error {
	if !t.l.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	for _, m := range b.Messages {
		var w struct {
			Type      string `json:"type"`
			Event     string `json:"event"`
			MessageID string `json:"messageId"`
		}
		_ = json.Unmarshal(m, &w) // the client encoded it: it decodes
		attrs := []slog.Attr{slog.String("type", w.Type)}
		if w.Event != "" {
			attrs = append(attrs, slog.String("event", w.Event))
		}
		attrs = append(attrs, slog.String("messageId", w.MessageID), slog.String("message", string(m)))
		t.l.LogAttrs(ctx, slog.LevelInfo, "analytics: not sent (no write key)", attrs...)
	}
	return nil
}
