package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

const validateSynopsis = `Usage: tracklane validate [flags] FILE|-

Checks NDJSON (one Segment message per line) offline, without a write key,
as import would send it: each line is mapped onto the client's messages and
encoded by the client exactly as import does (a line without a messageId or
context.library gets them), then checked with the strict collector's rules
(analyticstest.Validate: required fields, UTC timestamps with milliseconds,
messageId length, 32,000-byte limit, Ecommerce v2 property names and types,
...). With --raw, each line is checked as it is, as if it had been sent that
way. Every violation is printed with its line number; nothing is sent.
Exit status 0 when every line is valid, 1 otherwise, 2 usage errors.
`

func cmdValidate(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "validate", validateSynopsis)
	raw := fs.Bool("raw", false, "check each line as it is, not as import would send it")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return usageCode(err)
	}
	if len(pos) != 1 {
		env.errorf("validate: want one FILE or -")
		fs.Usage()
		return exitUsage
	}
	in, _, closeIn, err := openInput(env, pos[0])
	if err != nil {
		env.errorf("validate: %v", err)
		return exitUsage
	}
	defer closeIn()
	c, err := analytics.New("validate", analytics.WithTransport(analytics.TransportFunc(
		func(context.Context, *analytics.Batch) error { return nil })))
	if err != nil {
		env.errorf("validate: %v", err)
		return exitUsage
	}
	defer func() { _ = c.Close(context.WithoutCancel(ctx)) }()

	lr := newLineReader(in)
	lines, bad, violations := 0, 0, 0
	for {
		if ctx.Err() != nil {
			env.errorf("validate: interrupted after line %d", lr.n)
			return exitFailed
		}
		line, n, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			env.errorf("validate: %v", err)
			return exitUsage
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines++
		if vs := checkLine(c, line, *raw); len(vs) > 0 {
			bad++
			violations += len(vs)
			for _, v := range vs {
				fmt.Fprintf(env.stdout, "line %d: %s\n", n, v)
			}
		}
	}
	fmt.Fprintf(env.stdout, "validate: %d message(s), %d valid, %d with %d violation(s)\n", lines, lines-bad, bad, violations)
	if bad > 0 {
		return exitFailed
	}
	return exitOK
}

// checkLine returns what is wrong with one line, as text.
func checkLine(c *analytics.Client, line []byte, raw bool) []string {
	data := line
	if !raw {
		m, err := parseLine(line)
		if err != nil {
			return []string{err.Error()}
		}
		if id, present := m["messageId"]; !present || id == nil || id == "" {
			if m["messageId"], err = deriveID(m); err != nil {
				return []string{err.Error()}
			}
		}
		msg, err := toMessage(m)
		if err != nil {
			return []string{err.Error()}
		}
		enc, err := c.Encode(msg)
		if err != nil {
			return []string{"refused by the client: " + err.Error()}
		}
		data = enc.Data
	}
	var out []string
	for _, v := range analyticstest.Validate(data) {
		out = append(out, violationText(v))
	}
	return out
}

// violationText formats v without its batch position.
func violationText(v analyticstest.Violation) string {
	s := string(v.Rule) + ": " + v.Reason
	if v.Field != "" {
		s = v.Field + ": " + s
	}
	return s
}

// lineReader reads NDJSON lines, numbered from 1.
type lineReader struct {
	r   *bufio.Reader
	n   int // the number of the last line returned
	end bool
}

func newLineReader(in io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(in, 1<<20)} }

// next returns the next line, without its line ending, and its number; the
// error is io.EOF after the last line, or says what failed reading.
func (lr *lineReader) next() ([]byte, int, error) {
	if lr.end {
		return nil, lr.n, io.EOF
	}
	line, err := lr.r.ReadBytes('\n')
	if err != nil {
		lr.end = true
		if !errors.Is(err, io.EOF) {
			return nil, lr.n, fmt.Errorf("reading input after line %d: %w", lr.n, err)
		}
		if len(line) == 0 {
			return nil, lr.n, io.EOF
		}
	}
	lr.n++
	return bytes.TrimRight(line, "\r\n"), lr.n, nil
}
