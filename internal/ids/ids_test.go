package ids

import (
	"regexp"
	"sync"
	"testing"

	"github.com/google/uuid"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewV4(t *testing.T) {
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				id := NewV4()
				if !v4.MatchString(id) {
					t.Errorf("not a v4 UUID: %s", id)
				}
				u, err := uuid.Parse(id)
				if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
					t.Errorf("uuid.Parse(%s): %v %v %v", id, err, u.Version(), u.Variant())
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkNewV4(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewV4()
	}
}

func BenchmarkGoogleUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = uuid.NewString()
	}
}

// AppendV4 appends a v4 UUID after what b holds and allocates nothing.
func TestAppendV4(t *testing.T) {
	b := AppendV4([]byte("id="))
	if string(b[:3]) != "id=" || len(b) != 3+Len || !v4.MatchString(string(b[3:])) {
		t.Fatalf("AppendV4: %q", b)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendV4(buf[:0]) }); n != 0 {
		t.Errorf("AppendV4 allocates %v times", n)
	}
}
