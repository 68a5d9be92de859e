package jsonw

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.01, 0.07, 19.99, 22.5, 27.5, 1e-7, 1e21, 1e13, 1e13 - 0.01,
		123456789012.34, -0.05, 0.005, 1.005, 2.675, math.MaxFloat64, math.SmallestNonzeroFloat64, 9007199254740993}
	for i := 0; i < 200000; i++ {
		switch i % 4 {
		case 0:
			vals = append(vals, float64(r.IntN(10_000_000))/100) // money
		case 1:
			vals = append(vals, -float64(r.IntN(1000))/100)
		case 2:
			vals = append(vals, r.NormFloat64()*1e6)
		default:
			vals = append(vals, math.Float64frombits(r.Uint64()))
		}
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	}
}

func FuzzAppendFloat(f *testing.F) {
	f.Add(19.99)
	f.Add(-0.01)
	f.Add(1e300)
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		want, _ := json.Marshal(v)
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	})
}

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2015, 12, 10, 4, 8, 31, 905_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.FixedZone("x", -7*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1_700_000_000, 123_456_789),
	} {
		want := tm.UTC().Format("2006-01-02T15:04:05.000Z")
		if got := string(AppendTime(nil, tm)); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text long enough", `q"uote`, `back\slash`, "ctl\x01\x1f", "é✓🎉", "\u2028", "\xff\xfe", strings.Repeat("abcdefg\"", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := appendString(nil, s)
		if ok != utf8.ValidString(s) {
			t.Fatalf("valid=%v for %q", ok, s)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %s for %q", got, s)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if ok && back != s {
			t.Fatalf("round trip %q -> %s -> %q", s, got, back)
		}
		if ok {
			want, _ := json.Marshal(s)
			// encoding/json also escapes <, > and &; compare after decoding only.
			var wantBack string
			_ = json.Unmarshal(want, &wantBack)
			if wantBack != back {
				t.Fatalf("differs from encoding/json for %q", s)
			}
		}
	})
}

func TestPlainPrefix(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0}, {"abc", 3}, {"abcdefghijklmnop", 16}, {"abcdefgh\"ijk", 8}, {"abcdefghij\\k", 10},
		{"abcdefghijklmn\x7f", 15}, {"abcdefghijklmn\x1f", 14}, {"abcdefgh\xc3\xa9", 8}, {"a\x00bcdefghijk", 1}, {"~~~~~~~~ ", 9},
	} {
		if got := plainPrefix(tc.s); got != tc.want {
			t.Errorf("plainPrefix(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestFieldErrorPath(t *testing.T) {
	var w Writer
	w.Push("properties")
	w.ObjectStart()
	w.Field("price")
	w.Float(math.NaN())
	var pe *PathError
	if !errors.As(w.Err(), &pe) || pe.Path != "properties.price" || !errors.Is(pe, ErrNaN) {
		t.Fatalf("got %v", w.Err())
	}
	var w2 Writer
	w2.Field("name")
	w2.String("ok")
	w2.Field("other")
	w2.String("\xff")
	if !errors.As(w2.Err(), &pe) || pe.Path != "other" {
		t.Fatalf("got %v", w2.Err())
	}
	if string(w2.Buf) != "\"name\":\"ok\",\"other\":\"\ufffd\"" {
		t.Fatalf("buf %s", w2.Buf)
	}
}

func TestAnyMatchesEncodingJSON(t *testing.T) {
	v := map[string]any{"b": []any{1.5, "x", nil, true, map[string]any{"z": 1, "a": []string{"q"}}}, "a": int64(-3), "c": uint8(7)}
	var w Writer
	w.Any(v)
	if w.Err() != nil {
		t.Fatal(w.Err())
	}
	want, _ := json.Marshal(v)
	if string(w.Buf) != string(want) {
		t.Fatalf("got %s want %s", w.Buf, want)
	}
}
