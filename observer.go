package analytics

import (
	"fmt"
	"log/slog"
	"time"
)

// UploadObserver is told of every upload attempt, after the delivery policy
// judged it: the hook for metrics (upload duration, outcomes by status).
// Register one with WithUploadObserver; the OpenTelemetry and Prometheus
// adapters implement it. ObserveUpload is called from the uploader
// goroutines, so it must be safe for concurrent use and fast; a panic in it
// is recovered and logged.
type UploadObserver interface {
	ObserveUpload(UploadInfo)
}

// UploadInfo describes one upload attempt.
type UploadInfo struct {
	// Messages is the number of messages in the batch, Bytes their encoded
	// size (the request body adds the batch envelope).
	Messages, Bytes int
	// Attempt is 1 for the first attempt of these messages, 2 for the first retry, ...
	Attempt int
	// Duration is the time the Transport took.
	Duration time.Duration
	// StatusCode is the HTTP status answered, 0 when there was none (a
	// network error, or a custom Transport that returned no *HTTPError).
	StatusCode int
	// Result is what became of the attempt: "delivered", "retried",
	// "paused" (a 429; retried after the pause), "split", "rejected", or
	// "exhausted" (the policy would retry, but the batch's attempts or
	// retry time ran out).
	Result string
	// Err is the attempt's error, nil when delivered; the write key is
	// removed from it.
	Err error
}

// WithUploadObserver adds o to the observers told of every upload attempt.
// It may be given more than once; each observer is told. Default none. Nil
// makes New fail with a *ConfigError.
func WithUploadObserver(o UploadObserver) Option {
	return optionFunc(func(c *config) error {
		if o == nil {
			return &ConfigError{Option: "WithUploadObserver", Reason: "observer is nil"}
		}
		c.observers = append(c.observers, o)
		return nil
	})
}

// observe tells the observers of one attempt.
func (b *batcher) observe(info UploadInfo) {
	for _, o := range b.cfg.observers {
		b.observeOne(o, info)
	}
}

func (b *batcher) observeOne(o UploadObserver, info UploadInfo) {
	defer func() {
		if v := recover(); v != nil {
			b.log.log(slog.LevelError, "analytics: upload observer panicked", slog.String("panic", fmt.Sprint(v)))
		}
	}()
	o.ObserveUpload(info)
}
