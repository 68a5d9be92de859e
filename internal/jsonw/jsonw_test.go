package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
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
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendFloat(nil, v)), "AppendFloat(%v)", v)
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
		require.Equal(t, string(want), string(AppendFloat(nil, v)), "AppendFloat(%v)", v)
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
		require.Equal(t, tm.UTC().Format("2006-01-02T15:04:05.000Z"), string(AppendTime(nil, tm)), "AppendTime(%v)", tm)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text long enough", `q"uote`, `back\slash`, "ctl\x01\x1f", "é✓🎉", "\u2028", "\xff\xfe", strings.Repeat("abcdefg\"", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plainN := 0
		for plainN < len(s) && plain[s[plainN]] {
			plainN++
		}
		require.Equal(t, plainN, plainPrefix(s), "plainPrefix(%q)", s)
		var a, b Writer
		k := NewKey("k")
		a.StringMember(`"k":`, s)
		b.StringKey(&k, s)
		require.Equal(t, string(a.Buf), string(b.Buf), "StringKey(%q)", s)
		require.Equal(t, a.Err(), b.Err(), "StringKey(%q)", s)
		got, ok := appendString(nil, s)
		require.Equal(t, utf8.ValidString(s), ok, "valid for %q", s)
		require.True(t, json.Valid(got), "invalid JSON %s for %q", got, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
		if ok {
			require.Equal(t, s, back, "round trip of %q through %s", s, got)
			want, _ := json.Marshal(s)
			// encoding/json also escapes <, > and &; compare after decoding only.
			var wantBack string
			_ = json.Unmarshal(want, &wantBack)
			require.Equal(t, wantBack, back, "differs from encoding/json for %q", s)
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
		require.Equal(t, tc.want, plainPrefix(tc.s), "plainPrefix(%q)", tc.s)
	}
	// Every length up to three words, every byte class at every position:
	// the word loop, the overlapping last word and the byte loop agree
	// with a byte-by-byte scan.
	for n := 0; n <= 24; n++ {
		for at := 0; at < n; at++ {
			for _, c := range []byte{0x00, 0x1f, ' ', '"', '\\', '~', 0x7f, 0x80, 0xc3, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[at] = c
				want := 0
				for want < n && plain[b[want]] {
					want++
				}
				require.Equal(t, want, plainPrefix(string(b)), "plainPrefix(%q)", b)
			}
		}
	}
}

// TestErrorPath checks that the path of an error follows the keys and the
// containers: a key opens a member, the end of its value closes it.
func TestErrorPath(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		path  string
		err   error
	}{
		{"constant key", func(w *Writer) {
			w.ObjectStart()
			w.Field("properties")
			w.ObjectStart()
			w.Field("price")
			w.Float(math.NaN())
		}, "properties.price", ErrNaN},
		{"closed member is not named", func(w *Writer) {
			w.ObjectStart()
			w.Field("name")
			w.String("ok")
			w.Fail(ErrUnsupported)
		}, "", ErrUnsupported},
		{"next member", func(w *Writer) {
			w.ObjectStart()
			w.StringMember(`"name":`, "ok")
			w.StringMember(`"other":`, "\xff")
		}, "other", ErrInvalidUTF8},
		{"array index", func(w *Writer) {
			w.ObjectStart()
			w.Field("products")
			w.ArrayStart()
			for i := range 12 {
				w.ObjectStart()
				w.FloatMember(`"price":`, []float64{1, math.Inf(1)}[min(i/11, 1)])
				w.ObjectEnd()
			}
		}, "products[11].price", ErrNaN},
		{"after a closed object", func(w *Writer) {
			w.ObjectStart()
			w.Field("a")
			w.ObjectStart()
			w.ObjectEnd()
			w.Key("b")
			w.Any([]any{1, "\xff"})
		}, "b[1]", ErrInvalidUTF8},
		{"invalid key is quoted", func(w *Writer) {
			w.ObjectStart()
			w.Key("k\xff")
		}, `"k\xff"`, ErrInvalidUTF8},
		{"nested custom value", func(w *Writer) {
			w.ObjectStart()
			w.Field("query")
			w.Any(map[string]any{"a": map[string]any{"b": []any{math.NaN()}}})
		}, "query.a.b[0]", ErrNaN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			tc.write(&w)
			var pe *PathError
			require.ErrorAs(t, w.Err(), &pe)
			require.Equal(t, tc.path, pe.Path)
			require.ErrorIs(t, pe, tc.err)
		})
	}
}

func TestMemberBytes(t *testing.T) {
	var w Writer
	w.ObjectStart()
	w.StringMember(`"name":`, "ok")
	w.StringMember(`"other":`, "a\"b")
	w.IntMember(`"n":`, 3)
	w.FloatMember(`"f":`, 1.5)
	w.Field("arr")
	w.Any([]int{1, 2})
	w.ObjectEnd()
	require.NoError(t, w.Err())
	require.Equal(t, `{"name":"ok","other":"a\"b","n":3,"f":1.5,"arr":[1,2]}`, string(w.Buf))
}

func TestAnyMatchesEncodingJSON(t *testing.T) {
	v := map[string]any{"b": []any{1.5, "x", nil, true, map[string]any{"z": 1, "a": []string{"q"}}}, "a": int64(-3), "c": uint8(7)}
	var w Writer
	w.Any(v)
	require.NoError(t, w.Err())
	want, _ := json.Marshal(v)
	require.Equal(t, string(want), string(w.Buf))
}

// IntMember writes every integer as strconv does, around its fast paths.
func TestIntMember(t *testing.T) {
	for _, i := range []int64{math.MinInt64, -100, -10, -9, -1, 0, 1, 9, 10, 42, 99, 100, 101, 1 << 40, math.MaxInt64} {
		w := &Writer{}
		w.ObjectStart()
		w.IntMember(`"a":`, 1)
		w.IntMember(`"n":`, i)
		w.ObjectEnd()
		require.Equal(t, `{"a":1,"n":`+strconv.FormatInt(i, 10)+`}`, string(w.Buf))
	}
}

// NewKey keeps the key's bytes, and refuses what its words cannot hold.
func TestNewKey(t *testing.T) {
	for _, name := range []string{"a", "product_id", "shipping_method", "abcdefghijklmnopqrs"} {
		k := NewKey(name)
		require.Equal(t, `,"`+name+`":`, k.String())
	}
	for _, name := range []string{"abcdefghijklmnopqrst", `a"b`, `a\b`, "é", "a\x00"} {
		require.Panics(t, func() { NewKey(name) }, name)
	}
}

// The Key writers write what the qk writers write, first member or not,
// for every string length up to three 16-byte blocks and every byte class
// at every position (the block loop, the overlapping last block, the two
// words, the two halves and the byte loop), and fail alike.
func TestKeyMembers(t *testing.T) {
	k := NewKey("product_id")
	check := func(write func(w *Writer, viaKey bool)) {
		t.Helper()
		for _, first := range []bool{true, false} {
			var a, b Writer
			for i, w := range []*Writer{&a, &b} {
				w.ObjectStart()
				if !first {
					w.IntMember(`"n":`, 1)
				}
				write(w, i == 1)
			}
			require.Equal(t, string(a.Buf), string(b.Buf))
			require.Equal(t, a.Err(), b.Err())
		}
	}
	for n := 0; n <= 48; n++ {
		for at := 0; at <= n; at++ {
			for _, c := range []byte{'a', 0x00, 0x1f, ' ', '"', '\\', '~', 0x7f, 0x80, 0xc3, 0xff} {
				v := []byte(strings.Repeat("a", n))
				if at < n {
					v[at] = c
				}
				check(func(w *Writer, viaKey bool) {
					if viaKey {
						w.StringKey(&k, string(v))
					} else {
						w.StringMember(`"product_id":`, string(v))
					}
					w.IntMember(`"after":`, 2)
				})
			}
		}
	}
	for _, f := range []float64{0, 1, 18.99, -2.5, 1e21, 1e-7, math.NaN(), math.Inf(-1)} {
		check(func(w *Writer, viaKey bool) {
			if viaKey {
				w.FloatKey(&k, f)
			} else {
				w.FloatMember(`"product_id":`, f)
			}
		})
	}
	for _, i := range []int64{0, 7, 42, 100, -3, math.MaxInt64} {
		check(func(w *Writer, viaKey bool) {
			if viaKey {
				w.IntKey(&k, i)
			} else {
				w.IntMember(`"product_id":`, i)
			}
		})
	}
}

// The word test and the short copy take the fast path exactly for the
// strings plainPrefix calls plain: a wrong verdict would send plain
// strings down the escaping path (same bytes, slower) or worse.
func TestPlainVerdicts(t *testing.T) {
	for n := 0; n < 8; n++ {
		for at := 0; at <= n; at++ {
			for c := range 256 {
				v := []byte(strings.Repeat("a", n))
				if at < n {
					v[at] = byte(c)
				}
				d := make([]byte, n)
				ok := copyShort(d, string(v))
				require.Equal(t, plainPrefix(string(v)) == n, ok, "copyShort(%q)", v)
				if ok {
					require.Equal(t, string(v), string(d))
				}
			}
		}
	}
	for at := range 16 {
		for c := range 256 {
			v := []byte(strings.Repeat("~", 16))
			v[at] = byte(c)
			require.Equal(t, plain[c], plainWords(word(string(v[:8])), word(string(v[8:]))), "plainWords(%q)", v)
		}
	}
}
