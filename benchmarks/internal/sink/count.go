// Package sink is the counting endpoint of the end-to-end benchmark: an HTTP
// handler that accepts the batch bodies of every contender (Segment's
// /v1/batch and PostHog's /batch/, gzip or not), counts the messages in each
// and answers 200, or 500 under /dead/.
package sink

import "errors"

// ErrMalformed is returned by CountBatch for a body it cannot read.
var ErrMalformed = errors.New("sink: malformed batch body")

// CountBatch returns the number of elements of the "batch" array member of
// the JSON object body. Both Segment's {"batch":[...],...} and PostHog's
// {"api_key":...,"batch":[...]} have one. It scans once, without decoding,
// so that the sink's own CPU stays small next to the clients it measures.
// It checks nesting and string termination, not full JSON validity.
func CountBatch(body []byte) (int, error) {
	var (
		depth    int
		lastKey  []byte // the last string that ended at depth 1
		inBatch  bool
		expect   bool // inside batch: the next value starts an element
		count    int
		foundArr bool
	)
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			start := i + 1
			i++
			for ; i < len(body); i++ {
				if body[i] == '\\' {
					i++
					continue
				}
				if body[i] == '"' {
					break
				}
			}
			if i >= len(body) {
				return 0, ErrMalformed
			}
			if depth == 1 {
				lastKey = body[start:i]
			}
			if inBatch && depth == 2 && expect {
				count++
				expect = false
			}
			continue
		}
		if inBatch && depth == 2 && expect && c != ']' {
			count++
			expect = false
		}
		switch c {
		case '{', '[':
			if depth == 1 && c == '[' && string(lastKey) == "batch" {
				if foundArr {
					return 0, ErrMalformed
				}
				inBatch, expect, foundArr = true, true, true
			}
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return 0, ErrMalformed
			}
			if depth == 1 {
				inBatch = false
			}
		case ',':
			if inBatch && depth == 2 {
				expect = true
			}
		}
	}
	if depth != 0 || !foundArr {
		return 0, ErrMalformed
	}
	return count, nil
}
