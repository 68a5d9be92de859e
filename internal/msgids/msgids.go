// Package msgids reads messageIds back out of encoded messages and batch
// bodies, without decoding them: the journal names the messages it lost
// by them, and tests match what an endpoint received.
package msgids

import "bytes"

// Scan returns the values of every "messageId" JSON string in b, in order.
// It decodes no escapes: a value ends at its first quote, and a value
// without its closing quote (a torn record) is left out.
func Scan(b []byte) []string {
	const key = `"messageId":"`
	var ids []string
	for {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return ids
		}
		b = b[i+len(key):]
		j := bytes.IndexByte(b, '"')
		if j < 0 {
			return ids
		}
		ids = append(ids, string(b[:j]))
		b = b[j:]
	}
}
