package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tracklane/analytics/benchmarks/internal/contender"
)

// ChildResult is what one client process measured about itself.
type ChildResult struct {
	SDK  string `json:"sdk"`
	Mode string `json:"mode"` // "live" or "dead"
	N    int    `json:"n"`

	EnqueueSec float64 `json:"enqueue_sec"` // building and enqueuing the N events
	CloseSec   float64 `json:"close_sec"`   // Close, until it returned (or the cap)
	TotalSec   float64 `json:"total_sec"`   // first Enqueue to Close returned
	CloseCap   bool    `json:"close_capped,omitempty"`
	CloseErr   string  `json:"close_err,omitempty"`

	UserSec   float64 `json:"cpu_user_sec"` // getrusage(RUSAGE_SELF), New to Close returned
	SysSec    float64 `json:"cpu_sys_sec"`
	MaxRSSKiB int64   `json:"maxrss_kib"` // ru_maxrss: peak RSS of this process

	EnqueueErrors   int64             `json:"enqueue_errors"`   // events Enqueue refused (and we did not retry)
	QueueFullWaits  int64             `json:"queue_full_waits"` // live mode: ErrQueueFull answered by waiting for space
	CBDelivered     int64             `json:"cb_delivered"`     // events reported delivered by the SDK's callback
	CBFailed        int64             `json:"cb_failed"`        // accepted events reported failed by the callback
	CBRefused       int64             `json:"cb_refused"`       // events reported refused by the callback
	SDKStats        map[string]uint64 `json:"sdk_stats,omitempty"`
	FirstEnqueueErr string            `json:"first_enqueue_err,omitempty"`
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru
}

func tvSec(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// runChild runs one SDK in this process and prints a ChildResult as JSON.
//
// Live: N events, waiting for space whenever the SDK refuses one as its
// queue is full (only tracklane refuses; the peers block in Enqueue), then
// Close with closeLive as deadline. Dead: N events against an endpoint
// answering 500, refusals counted and not retried, then Close with
// closeDead as deadline; the peers' Close takes no context, so it is cut
// off after closeCap and reported as capped (the process then exits).
func runChild(sdk, mode, baseURL string, n int, closeDead, closeLive, closeCap time.Duration) error {
	var cnt contender.Counters
	ru0 := rusage()
	url := baseURL
	if mode == "dead" {
		url += "/dead"
	}
	c, err := contender.New(sdk, url, &cnt)
	if err != nil {
		return err
	}
	res := ChildResult{SDK: sdk, Mode: mode, N: n}
	wait := mode == "live"

	start := time.Now()
	for range n {
		waits, err := c.Send(wait)
		res.QueueFullWaits += int64(waits)
		if err != nil {
			res.EnqueueErrors++
			if res.FirstEnqueueErr == "" {
				res.FirstEnqueueErr = err.Error()
			}
		}
	}
	enqueued := time.Now()
	res.EnqueueSec = enqueued.Sub(start).Seconds()

	deadline := closeLive
	if mode == "dead" {
		deadline = closeDead
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Close(ctx) }()
	capT := time.NewTimer(closeCap)
	select {
	case err := <-done:
		if err != nil {
			res.CloseErr = err.Error()
		}
	case <-capT.C:
		res.CloseCap = true
		res.CloseErr = fmt.Sprintf("Close still running after %s: cut off", closeCap)
	}
	end := time.Now()
	res.CloseSec = end.Sub(enqueued).Seconds()
	res.TotalSec = end.Sub(start).Seconds()

	ru1 := rusage()
	res.UserSec = tvSec(ru1.Utime) - tvSec(ru0.Utime)
	res.SysSec = tvSec(ru1.Stime) - tvSec(ru0.Stime)
	res.MaxRSSKiB = ru1.Maxrss
	res.CBDelivered = cnt.Delivered.Load()
	res.CBFailed = cnt.Failed.Load()
	res.CBRefused = cnt.Refused.Load()
	if !res.CloseCap {
		res.SDKStats = c.Stats()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

var errUsage = errors.New("usage")
