package analytics

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/tracklane/analytics/internal/jsonw"
)

// redactor removes the write key from text that leaves the client (errors,
// log lines, reports), in every form a server or a proxy may echo it: raw,
// base64 of "key:" (the Authorization header) or of the key alone, in the
// standard and URL alphabets with and without padding, JSON-escaped and
// URL-escaped. Text must be redacted before it is cut to a length, so that
// no cut leaves half a key behind.
type redactor struct {
	r *strings.Replacer // nil when there is no key
}

// redacted replaces every form of the write key.
const redacted = "[REDACTED]"

func newRedactor(key string) redactor {
	if key == "" {
		return redactor{}
	}
	forms := map[string]bool{key: true}
	for _, s := range []string{key + ":", key} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			forms[enc.EncodeToString([]byte(s))] = true
		}
	}
	q := jsonw.AppendString(nil, key)
	forms[string(q[1:len(q)-1])] = true
	if b, err := json.Marshal(key); err == nil { // encoding/json also escapes <, > and &
		forms[string(b[1:len(b)-1])] = true
	}
	forms[url.QueryEscape(key)] = true
	forms[url.PathEscape(key)] = true
	// Longest first, so that a longer form is replaced whole.
	var sorted []string
	for f := range forms {
		if len(f) >= 4 || f == key { // a 1-3 byte key's encodings would match everywhere
			sorted = append(sorted, f)
		}
	}
	sortByLenDesc(sorted)
	args := make([]string, 0, 2*len(sorted))
	for _, f := range sorted {
		args = append(args, f, redacted)
	}
	return redactor{r: strings.NewReplacer(args...)}
}

func sortByLenDesc(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (len(s[j]) > len(s[j-1]) || len(s[j]) == len(s[j-1]) && s[j] < s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// string returns s without the key.
func (r redactor) string(s string) string {
	if r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// error returns err, or when its text holds the key, an error with the
// key removed from the text that keeps the chain for errors.Is and errors.As.
func (r redactor) error(err error) error {
	if err == nil || r.r == nil {
		return err
	}
	msg := err.Error()
	if red := r.r.Replace(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
