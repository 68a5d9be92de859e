package sink

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Counts are what one class of endpoint (live or dead) received.
type Counts struct {
	Requests     int64 `json:"requests"`
	GzipRequests int64 `json:"gzip_requests"`
	Messages     int64 `json:"messages"`     // batch elements, summed over requests
	WireBytes    int64 `json:"wire_bytes"`   // request bodies as received (compressed when gzip)
	BodyBytes    int64 `json:"body_bytes"`   // request bodies uncompressed
	HeaderBytes  int64 `json:"header_bytes"` // request line and headers, as HTTP/1.1 text
	Malformed    int64 `json:"malformed"`    // bodies CountBatch or gzip could not read
}

// Stats is the answer of GET /stats.
type Stats struct {
	Live Counts `json:"live"`
	Dead Counts `json:"dead"` // requests under /dead/, answered 500
}

// Handler counts batches. POST to any path is a batch upload: under /dead/
// it is answered 500, elsewhere 200 with the body each SDK expects
// ({"status":1} for PostHog's /batch/, {"success":true} otherwise).
// GET /stats returns Stats as JSON; POST /reset zeroes them.
type Handler struct {
	mu sync.Mutex
	st Stats

	bufs sync.Pool // *bytes.Buffer
	gzrs sync.Pool // *gzip.Reader
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/stats":
		st := h.Snapshot()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/reset":
		h.mu.Lock()
		h.st = Stats{}
		h.mu.Unlock()
		return
	case r.Method != http.MethodPost:
		http.Error(w, "POST a batch", http.StatusMethodNotAllowed)
		return
	}
	dead := strings.HasPrefix(r.URL.Path, "/dead/")
	var c Counts
	c.Requests = 1
	c.HeaderBytes = headerBytes(r)

	raw := h.getBuf()
	defer h.bufs.Put(raw)
	n, err := raw.ReadFrom(r.Body)
	c.WireBytes = n
	body := raw.Bytes()
	if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
		c.GzipRequests = 1
		plain := h.getBuf()
		defer h.bufs.Put(plain)
		err = h.gunzip(plain, body)
		body = plain.Bytes()
	}
	c.BodyBytes = int64(len(body))
	if err == nil {
		var msgs int
		msgs, err = CountBatch(body)
		c.Messages = int64(msgs)
	}
	if err != nil {
		c.Malformed = 1
	}

	h.mu.Lock()
	dst := &h.st.Live
	if dead {
		dst = &h.st.Dead
	}
	dst.add(&c)
	h.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case dead:
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"dead endpoint"}`)
	case err != nil:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"malformed"}`)
	case strings.HasSuffix(r.URL.Path, "/batch/"):
		_, _ = io.WriteString(w, `{"status":1}`)
	default:
		_, _ = io.WriteString(w, `{"success":true}`)
	}
}

// Snapshot returns the counts so far.
func (h *Handler) Snapshot() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

func (c *Counts) add(d *Counts) {
	c.Requests += d.Requests
	c.GzipRequests += d.GzipRequests
	c.Messages += d.Messages
	c.WireBytes += d.WireBytes
	c.BodyBytes += d.BodyBytes
	c.HeaderBytes += d.HeaderBytes
	c.Malformed += d.Malformed
}

func (h *Handler) getBuf() *bytes.Buffer {
	if b, ok := h.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (h *Handler) gunzip(dst *bytes.Buffer, src []byte) error {
	zr, ok := h.gzrs.Get().(*gzip.Reader)
	var err error
	if ok {
		err = zr.Reset(bytes.NewReader(src))
	} else {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	}
	if err != nil {
		return err
	}
	defer h.gzrs.Put(zr)
	_, err = dst.ReadFrom(zr)
	return err
}

// headerBytes is the size of the request line and headers as HTTP/1.1 text.
func headerBytes(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n + 2)
}
