package analyticstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// What the Server and the Recorder keep is stored compressed, many requests
// to a block (blobs.go). These tests hold its accessors to returning exactly
// what was sent, across many blocks, while serving, and in memory of the
// caller's own; and hold the memory kept well below the bytes received.

// bulkMessage returns message j of request i: distinct, of about pad+300
// bytes.
func bulkMessage(t testing.TB, i, j, pad int) []byte {
	return msg(t, "track", map[string]any{
		"messageId":  fmt.Sprintf("m-%d-%d", i, j),
		"properties": map[string]any{"n": i*1000 + j, "pad": strings.Repeat(string(rune('a'+j%26)), pad)},
	})
}

// decoded returns what Messages reports for raw, delivered with the call
// type typ.
func decoded(t testing.TB, raw []byte, typ string) analyticstest.Message {
	t.Helper()
	m, err := analyticstest.DecodeMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type == "" {
		m.Type = typ
	}
	return m
}

func TestServerKeepsExactlyWhatWasSent(t *testing.T) {
	srv := analyticstest.NewServer(key, analyticstest.WithRejectViolations(false))
	defer srv.Close()
	var (
		bodies [][]byte // each request's Body, as Requests should report it
		want   []analyticstest.Message
	)
	send := func(path string, body []byte, wire []byte, edit func(*http.Request), wantStatus int) {
		t.Helper()
		if st, answer := post(t, srv, path, wire, edit); st != wantStatus {
			t.Fatalf("request %d: %d %s, want %d", len(bodies), st, answer, wantStatus)
		}
		bodies = append(bodies, body)
	}
	// 60 batches of 80 messages, about 5 MB: several blocks. Some gzip, some
	// with a violation (so the full checks, which copy the messages), some
	// rejected (their body kept, no message), a redelivery, single calls
	// and an empty body.
	for i := range 60 {
		var msgs [][]byte
		for j := range 80 {
			msgs = append(msgs, bulkMessage(t, i, j, 900))
		}
		if i%5 == 3 {
			msgs[10] = msg(t, "track", map[string]any{"messageId": fmt.Sprintf("bad-%d", i), "timestamp": "yesterday"})
		}
		if i == 40 {
			msgs[20] = bulkMessage(t, 39, 20, 900) // delivered already: a duplicate
		}
		body := batchBody(msgs...)
		switch {
		case i%11 == 5:
			send("/v1/batch", body, body, func(r *http.Request) { r.SetBasicAuth("wrong", "") }, 401)
			continue
		case i%7 == 2:
			send("/v1/batch", body, gzipped(body), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, 200)
		default:
			send("/v1/batch", body, body, nil, 200)
		}
		for j, m := range msgs {
			if i != 40 || j != 20 {
				want = append(want, decoded(t, m, ""))
			}
		}
		if i%9 == 0 {
			single := msg(t, "identify", map[string]any{"type": nil, "messageId": fmt.Sprintf("single-%d", i)})
			send("/v1/identify", single, single, nil, 200)
			want = append(want, decoded(t, single, "identify"))
		}
	}
	send("/v1/batch", []byte{}, nil, nil, 400)

	if got := srv.Messages(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Messages: %d messages, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	if srv.Len() != len(want) || srv.Duplicates() != 1 {
		t.Errorf("len %d, duplicates %d; want %d, 1", srv.Len(), srv.Duplicates(), len(want))
	}
	var wantTracks []analyticstest.Message
	for _, m := range want {
		if m.Type == "track" {
			wantTracks = append(wantTracks, m)
		}
	}
	if got := srv.Tracks("Signed Up"); !reflect.DeepEqual(got, wantTracks) {
		t.Errorf("Tracks: %d messages, want %d", len(got), len(wantTracks))
	}
	if last, ok := srv.Last(); !ok || !reflect.DeepEqual(last, want[len(want)-1]) {
		t.Errorf("Last: %+v", last)
	}
	reqs := srv.Requests()
	if len(reqs) != len(bodies) {
		t.Fatalf("%d requests, want %d", len(reqs), len(bodies))
	}
	for i, r := range reqs {
		if !bytes.Equal(r.Body, bodies[i]) || r.Body == nil || !r.Done {
			t.Fatalf("request %d: body of %d bytes (nil %v), want %d", i, len(r.Body), r.Body == nil, len(bodies[i]))
		}
	}

	// What the accessors return is the caller's: writing to it changes
	// nothing the Server keeps.
	reqs[0].Body[0], reqs[len(reqs)-2].Body[0] = 'X', 'X'
	ms := srv.Messages()
	ms[0].Raw[0] = 'X'
	if again := srv.Requests(); !bytes.Equal(again[0].Body, bodies[0]) || !bytes.Equal(again[len(again)-2].Body, bodies[len(bodies)-2]) {
		t.Error("Requests shares the bodies it returns")
	}
	if again := srv.Messages(); !reflect.DeepEqual(again, want) {
		t.Error("Messages shares the bytes it returns")
	}
}

// firstDiff returns the index of the first message that differs.
func firstDiff(got, want []analyticstest.Message) int {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return i
		}
	}
	return min(len(got), len(want))
}

// TestServerReadsWhileServing reads every accessor while a client delivers
// a few MB and a Reset happens midway: each read is consistent (the
// messages read are those delivered so far, in order; a finished request's
// body is whole), and -race finds nothing.
func TestServerReadsWhileServing(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	c := newClient(t, srv, analytics.WithConcurrency(1)) // batches arrive in order
	ctx := ctxT(t)
	const n = 6000
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads > 0 {
						return
					}
				default:
				}
				for _, r := range srv.Requests() {
					if r.Done && r.Status == 200 && !json.Valid(r.Body) {
						t.Errorf("a finished request's body is not whole: %d bytes", len(r.Body))
						return
					}
				}
				if last, ok := srv.Last(); ok && !strings.HasPrefix(last.MessageID, "id-") {
					t.Errorf("Last: %+v", last)
					return
				}
				if reads%8 == 0 {
					checkInOrder(t, srv.Tracks("Order Completed"))
				}
			}
		})
	}
	for i := range n {
		if i == n/2 {
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Reset()
		}
		ev := order()
		ev.MessageID = fmt.Sprintf("id-%06d", i)
		if err := c.EnqueueContext(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	close(done)
	wg.Wait()
	ms := srv.Messages()
	checkInOrder(t, ms)
	if len(ms) != n/2 || srv.Len() != n/2 || ms[0].MessageID != fmt.Sprintf("id-%06d", n/2) {
		t.Errorf("%d messages after Reset (len %d), want %d", len(ms), srv.Len(), n/2)
	}
}

// checkInOrder fails when ms are not messages of ascending ids, each whole.
func checkInOrder(t *testing.T, ms []analyticstest.Message) {
	t.Helper()
	for i, m := range ms {
		if m.Properties["order_id"] != "50314b8e" || !json.Valid(m.Raw) || i > 0 && m.MessageID <= ms[i-1].MessageID {
			t.Errorf("message %d of %d: %s after %s", i, len(ms), m.MessageID, ms[max(i-1, 0)].MessageID)
			return
		}
	}
}

// liveHeap returns the bytes of live heap objects, after collecting (twice,
// so that sync.Pool's caches are emptied as well).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestKeepsFarLessThanItReceives sends 32 MB of 2 KB messages to a Server
// and to a Recorder: the live heap grows by well under a quarter of that
// (the bytes compressed, about 100 bytes a message besides, and the block
// being filled), while every message stays readable. Keeping the bytes as
// they came, it grows by more than 32 MB.
func TestKeepsFarLessThanItReceives(t *testing.T) {
	batch := func(i int) [][]byte {
		var msgs [][]byte
		for j := range 150 {
			msgs = append(msgs, bulkMessage(t, i, j, 1700))
		}
		return msgs
	}
	t.Run("Server", func(t *testing.T) {
		srv := analyticstest.NewServer(key)
		defer srv.Close()
		var body []byte
		sent, grown := keptHeap(func(i int) int {
			body = batchBody(batch(i)...)
			if st, answer := post(t, srv, "/v1/batch", body, nil); st != 200 {
				t.Fatalf("%d %s", st, answer)
			}
			return len(body)
		}, srv.Client().CloseIdleConnections)
		t.Logf("%d MB of bodies, live heap grown by %.1f MB", sent>>20, float64(grown)/(1<<20))
		if grown > sent/4 {
			t.Errorf("after %d MB of bodies the live heap grew by %.1f MB; want under a quarter", sent>>20, float64(grown)/(1<<20))
		}
		if reqs := srv.Requests(); !bytes.Equal(reqs[len(reqs)-1].Body, body) || srv.Len() != len(reqs)*150 {
			t.Errorf("%d requests, %d messages", len(reqs), srv.Len())
		}
	})
	t.Run("Recorder", func(t *testing.T) {
		rec := analyticstest.NewRecorder()
		var last []byte
		sent, grown := keptHeap(func(i int) int {
			b := analytics.Batch{}
			n := 0
			for _, m := range batch(i) {
				b.Messages = append(b.Messages, m)
				n += len(m)
				last = m
			}
			if err := rec.Send(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			return n
		}, func() {})
		t.Logf("%d MB of messages, live heap grown by %.1f MB", sent>>20, float64(grown)/(1<<20))
		if grown > sent/4 {
			t.Errorf("after %d MB of messages the live heap grew by %.1f MB; want under a quarter", sent>>20, float64(grown)/(1<<20))
		}
		if m, ok := rec.Last(); !ok || !bytes.Equal(m.Raw, last) || rec.Len() != len(rec.Batches())*150 {
			t.Errorf("last %s, %d messages", m.Raw, rec.Len())
		}
	})
}

// keptHeap calls send(0), send(1), ... until they have sent 32 MB, then
// idle, and returns the bytes sent and how much the live heap grew.
func keptHeap(send func(i int) int, idle func()) (sent, grown int64) {
	start := liveHeap()
	for i := 0; sent < 32<<20; i++ {
		sent += int64(send(i))
	}
	idle()
	return sent, int64(liveHeap()) - int64(start)
}

// TestRecorderKeepsExactlyWhatWasSent sends batches spanning several
// blocks, some failed: Batches, Attempts and Messages return exactly what
// was sent, in memory of the caller's own.
func TestRecorderKeepsExactlyWhatWasSent(t *testing.T) {
	rec := analyticstest.NewRecorder()
	var attempts []analyticstest.Attempt
	var batches []analytics.Batch
	var want []analyticstest.Message
	failed := errors.New("scripted")
	for i := range 40 {
		b := analytics.Batch{Attempt: 1 + i%3, Messages: []json.RawMessage{}}
		for j := range 120 {
			b.Messages = append(b.Messages, bulkMessage(t, i, j, 900))
		}
		if i == 17 {
			b.Messages = append(b.Messages, json.RawMessage{}) // an empty message is kept empty, not nil
		}
		if i%6 == 4 {
			rec.FailNext(1, failed)
		}
		err := rec.Send(context.Background(), &b)
		if (err != nil) != (i%6 == 4) {
			t.Fatalf("send %d: %v", i, err)
		}
		cp := analytics.Batch{Attempt: b.Attempt, Messages: make([]json.RawMessage, len(b.Messages))}
		for k, m := range b.Messages {
			cp.Messages[k] = append(json.RawMessage{}, m...)
			if len(m) > 0 {
				m[0] = 'X' // the caller reuses its memory once Send returns
			}
		}
		attempts = append(attempts, analyticstest.Attempt{Batch: cp, Err: err})
		if err == nil {
			batches = append(batches, cp)
			for _, m := range cp.Messages {
				if len(m) > 0 {
					want = append(want, decoded(t, m, ""))
				} else {
					want = append(want, analyticstest.Message{Raw: json.RawMessage{}})
				}
			}
		}
	}
	if got := rec.Attempts(); !reflect.DeepEqual(got, attempts) {
		t.Errorf("Attempts: %d, want %d", len(got), len(attempts))
	}
	got := rec.Batches()
	if !reflect.DeepEqual(got, batches) {
		t.Fatalf("Batches: %d, want %d", len(got), len(batches))
	}
	if ms := rec.Messages(); !reflect.DeepEqual(ms, want) {
		t.Errorf("Messages: %d, want %d; first difference at %d", len(ms), len(want), firstDiff(ms, want))
	}
	got[0].Messages[0][0] = 'X'
	if again := rec.Attempts(); !reflect.DeepEqual(again, attempts) {
		t.Error("Batches shares the bytes it returns")
	}
}
