package analyticstest

import (
	"fmt"
	"testing"
	"time"
)

// parseTime is what checkTime must agree with: time.Parse with timeLayout,
// and Format giving the same text back.
func parseTime(s string) bool {
	t, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	return err == nil && t.Format("2006-01-02T15:04:05.000Z") == s
}

// TestCheckTimeAgreesWithParse compares the timestamp check with time.Parse
// on every date of leap and common years, the edges of every field, and
// every byte at every position of valid timestamps, removed or doubled.
func TestCheckTimeAgreesWithParse(t *testing.T) {
	var cases []string
	for _, year := range []string{"0000", "0004", "1900", "1999", "2000", "2015", "2016", "2100", "9999"} {
		for month := range 14 {
			for day := range 33 {
				cases = append(cases, fmt.Sprintf("%s-%02d-%02dT04:08:31.905Z", year, month, day))
			}
		}
	}
	for _, hms := range [][3]int{{0, 0, 0}, {23, 59, 59}, {24, 0, 0}, {23, 60, 0}, {23, 59, 60}, {99, 99, 99}} {
		cases = append(cases, fmt.Sprintf("2015-12-10T%02d:%02d:%02d.000Z", hms[0], hms[1], hms[2]))
	}
	for _, base := range []string{"2015-12-10T04:08:31.905Z", "2016-02-29T23:59:59.999Z", "0000-01-01T00:00:00.000Z"} {
		for i := range len(base) {
			cases = append(cases, base[:i]+base[i+1:], base[:i]+base[i:i+1]+base[i:])
			for c := range 256 {
				cases = append(cases, base[:i]+string([]byte{byte(c)})+base[i+1:])
			}
		}
		cases = append(cases, base+" ", " "+base, base[:23]+"+00:00", base[:19]+"Z", base[:19]+".9050Z")
	}
	valid := 0
	for _, s := range cases {
		want := parseTime(s)
		if got := checkTime(s); got != want {
			t.Errorf("checkTime(%q) = %v, time.Parse says %v", s, got, want)
		}
		if want {
			valid++
		}
	}
	if valid < 3000 {
		t.Errorf("only %d of %d cases valid: the cases do not cover the valid dates", valid, len(cases))
	}
}

func FuzzCheckTime(f *testing.F) {
	for _, s := range []string{"2015-12-10T04:08:31.905Z", "2016-02-29T23:59:59.999Z", "1900-02-29T00:00:00.000Z", "2015-13-01T00:00:00.000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := checkTime(s), parseTime(s); got != want {
			t.Fatalf("checkTime(%q) = %v, time.Parse says %v", s, got, want)
		}
	})
}
