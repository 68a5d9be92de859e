package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tracklane/analytics/benchmarks/internal/contender"
	"github.com/tracklane/analytics/benchmarks/internal/report"
)

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
//
// With profDir set, it writes a CPU profile of the whole run to
// profDir/SDK-MODE.cpu.pprof and a heap profile taken when the last event is
// enqueued (near the peak for dead runs) to profDir/SDK-MODE.heap.pprof.
func runChild(sdk, mode, baseURL string, n int, closeDead, closeLive, closeCap time.Duration, profDir string) error {
	if profDir != "" {
		f, err := os.Create(filepath.Join(profDir, sdk+"-"+mode+".cpu.pprof"))
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }() // a profile; its write errors surface in StopCPUProfile
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
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
	res := report.ChildResult{SDK: sdk, Mode: mode, N: n}
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
	if profDir != "" {
		if err := writeHeap(filepath.Join(profDir, sdk+"-"+mode+".heap.pprof")); err != nil {
			return err
		}
	}

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

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
