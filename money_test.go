package analytics

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestAmount(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     float64
	}{
		{1999, "USD", 19.99},
		{1999, "usd", 19.99},
		{10, "EUR", 0.1},
		{1, "GBP", 0.01},
		{0, "USD", 0},
		{-1999, "USD", -19.99},
		{500, "JPY", 500},
		{123456, "KRW", 123456},
		{1999, "KWD", 1.999},
		{1, "BHD", 0.001},
		{25000, "TND", 25},
		{12345, "CLF", 1.2345},
		{1, "UYW", 0.0001},
		{2750, "XCG", 27.5},
		{math.MaxInt64, "USD", 92233720368547758.07},
		{math.MinInt64, "KWD", -9223372036854775.808},
		{1<<53 + 1, "USD", 90071992547409.93},
	}
	for _, tc := range tests {
		got, err := Amount(tc.minor, tc.currency)
		if err != nil || got != tc.want {
			t.Errorf("Amount(%d, %q) = %v, %v; want %v", tc.minor, tc.currency, got, err, tc.want)
		}
	}
}

// Every cent amount converts to exactly the float64 its decimal literal
// parses to (multiplying by 0.01 would not: 1999 * 0.01 is 19.990000000000002).
func TestAmountExact(t *testing.T) {
	minor, cent := int64(1999), 0.01
	if naive := float64(minor) * cent; naive == 19.99 {
		t.Errorf("the naive product %v is exact; this test no longer shows the point", naive)
	}
	for _, c := range []struct {
		code string
		exp  int
	}{{"USD", 2}, {"KWD", 3}, {"CLF", 4}} {
		for minor = int64(-2000); minor <= 200000; minor++ {
			got, err := Amount(minor, c.code)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := strconv.ParseFloat(strconv.FormatInt(minor, 10)+"e-"+strconv.Itoa(c.exp), 64)
			if got != want {
				t.Fatalf("Amount(%d, %s) = %v, want %v", minor, c.code, got, want)
			}
		}
	}
	// The encoded JSON is the short decimal, never 19.990000000000002.
	v, _ := Amount(1999, "USD")
	if s := strconv.FormatFloat(v, 'f', -1, 64); s != "19.99" {
		t.Errorf("encoded as %s", s)
	}
}

func TestAmountErrors(t *testing.T) {
	for _, code := range []string{"", "US", "USDT", "U$D", "ABC", "XAU", "XDR", "XTS", "XXX", "€€"} {
		got, err := Amount(100, code)
		if !errors.Is(err, ErrInvalidValue) || got != 0 {
			t.Errorf("Amount(100, %q) = %v, %v; want 0 and ErrInvalidValue", code, got, err)
		}
	}
}

func TestCurrencyExponent(t *testing.T) {
	for code, want := range map[string]int{
		"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "jpy": 0, "KRW": 0, "VND": 0, "ISK": 0, "CLP": 0,
		"XAF": 0, "XOF": 0, "XPF": 0, "BIF": 0, "DJF": 0, "GNF": 0, "KMF": 0, "PYG": 0, "RWF": 0,
		"UGX": 0, "UYI": 0, "VUV": 0, "KWD": 3, "BHD": 3, "IQD": 3, "JOD": 3, "LYD": 3, "OMR": 3,
		"TND": 3, "CLF": 4, "UYW": 4, "MGA": 2, "MRU": 2, "ZWG": 2, "VED": 2, "SLE": 2,
	} {
		got, err := CurrencyExponent(code)
		if err != nil || got != want {
			t.Errorf("CurrencyExponent(%q) = %d, %v; want %d", code, got, err, want)
		}
	}
}

func TestCurrencyExponentAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = Amount(1999, "usd") }); n != 0 {
		t.Errorf("Amount: %v allocs, want 0", n)
	}
}
