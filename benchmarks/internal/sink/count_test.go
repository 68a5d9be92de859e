package sink

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCountBatch(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"batch":[],"sentAt":"x"}`, 0},
		{`{"batch":[{"a":1}],"writeKey":"k"}`, 1},
		{`{"api_key":"k","batch":[{"a":[1,2,{"b":"]"}]},{"c":"\"batch\":[1,2]"},3, "s" ,null]}`, 5},
		{` { "sentAt" : "x" , "batch" : [ {"x":"\\"} , [ 1 , 2 ] ] } `, 2},
		{`{"context":{"batch":[1,2,3]},"batch":[{}]}`, 1},
	} {
		got, err := CountBatch([]byte(tc.body))
		if err != nil || got != tc.want {
			t.Errorf("CountBatch(%s) = %d, %v; want %d", tc.body, got, err, tc.want)
		}
		var v struct{ Batch []json.RawMessage }
		if err := json.Unmarshal([]byte(tc.body), &v); err != nil || len(v.Batch) != tc.want {
			t.Errorf("test case %s disagrees with encoding/json: %d, %v", tc.body, len(v.Batch), err)
		}
	}
}

func TestCountBatchMalformed(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"batch":[1,2}`, `{"batch":["x]}`, `{"batch":[1]}]`, `{"batch":[1],"batch":[2]}`} {
		if n, err := CountBatch([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("CountBatch(%s) = %d, %v; want ErrMalformed", body, n, err)
		}
	}
}

func TestCountBatchLarge(t *testing.T) {
	msg := `{"type":"track","event":"Order \"Completed\"","properties":{"products":[{"a":1},{"b":[2,3]}]}}`
	body := `{"batch":[` + strings.Repeat(msg+",", 499) + msg + `],"sentAt":"2026-01-01T00:00:00.000Z"}`
	if n, err := CountBatch([]byte(body)); err != nil || n != 500 {
		t.Fatalf("CountBatch = %d, %v; want 500", n, err)
	}
}
