package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tracklane/analytics"
)

const sendSynopsis = `Usage: tracklane send [TYPE] [flags]

Sends one call and waits for its outcome. TYPE is track, identify, page,
screen, group or alias, with the call's members from flags; without TYPE
(or with -), one JSON Segment message is read from stdin instead:

  tracklane send track --user-id u1 --event "Order Completed" --properties '{"order_id":"o1","total":27.5}'
  echo '{"type":"alias","userId":"u1","previousId":"anon-7"}' | tracklane send

Prints the messageId on success. Exit status 0 delivered, 1 refused or not
delivered, 2 usage errors.
`

func cmdSend(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "send", sendSynopsis)
	var d dest
	d.register(fs)
	var (
		userID    = fs.String("user-id", "", "userId")
		anonID    = fs.String("anonymous-id", "", "anonymousId")
		messageID = fs.String("message-id", "", "messageId (default: a new UUID)")
		timestamp = fs.String("timestamp", "", "when it happened, RFC 3339 (default: now)")
		event     = fs.String("event", "", "track: the event name")
		name      = fs.String("name", "", "page, screen: the name")
		category  = fs.String("category", "", "page, screen: the category")
		groupID   = fs.String("group-id", "", "group: the groupId")
		prevID    = fs.String("previous-id", "", "alias: the previousId")
		props     = fs.String("properties", "", "track, page, screen: properties, a JSON object")
		traits    = fs.String("traits", "", "identify, group: traits, a JSON object")
		ctxJSON   = fs.String("context", "", "context, a JSON object")
		integ     = fs.String("integrations", "", "integrations, a JSON object")
		timeout   = fs.Duration("timeout", 30*time.Second, "give up delivering after this long")
	)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return usageCode(err)
	}
	if len(pos) > 1 {
		env.errorf("send: one TYPE at most, got %q", pos)
		return exitUsage
	}
	var m map[string]any
	if len(pos) == 0 || pos[0] == "-" {
		line, err := io.ReadAll(io.LimitReader(env.stdin, 1<<20))
		if err != nil {
			env.errorf("send: reading stdin: %v", err)
			return exitUsage
		}
		if m, err = parseLine(line); err != nil {
			env.errorf("send: stdin: %v", err)
			return exitUsage
		}
	} else {
		m = map[string]any{"type": pos[0]}
		set := func(k, v string) {
			if v != "" {
				m[k] = v
			}
		}
		set("userId", *userID)
		set("anonymousId", *anonID)
		set("messageId", *messageID)
		set("timestamp", *timestamp)
		set("event", *event)
		set("name", *name)
		set("category", *category)
		set("groupId", *groupID)
		set("previousId", *prevID)
		for _, o := range []struct{ flag, key, val string }{
			{"properties", "properties", *props}, {"traits", "traits", *traits},
			{"context", "context", *ctxJSON}, {"integrations", "integrations", *integ},
		} {
			if o.val == "" {
				continue
			}
			v, err := parseLine([]byte(o.val))
			if err != nil {
				env.errorf("send: --%s: %v", o.flag, err)
				return exitUsage
			}
			m[o.key] = v
		}
	}
	msg, err := toMessage(m)
	if err != nil {
		env.errorf("send: %v", err)
		return exitFailed
	}

	var outcome analytics.Report
	var once sync.Once
	got := make(chan struct{})
	c, col, err := d.newClient(env, analytics.WithDeliveryCallback(func(r analytics.Report) {
		if r.Outcome == analytics.Delivered || r.Outcome == analytics.Failed {
			once.Do(func() { outcome = r; close(got) })
		}
	}))
	if err != nil {
		env.errorf("send: %v", err)
		return exitUsage
	}
	defer col.close()
	err = c.Enqueue(msg)
	cctx, cancel := contextWithTimeout(ctx, *timeout)
	defer cancel()
	closeErr := c.Close(cctx)
	if err != nil {
		env.errorf("send: refused: %v", err)
		return exitFailed
	}
	violations := col.report(env.stderr)
	select {
	case <-got:
	default:
		env.errorf("send: not delivered: %v", closeErr)
		return exitFailed
	}
	if outcome.Outcome != analytics.Delivered {
		env.errorf("send: not delivered: %v", outcome.Err)
		return exitFailed
	}
	id := ""
	if len(outcome.Messages) == 1 {
		id = outcome.Messages[0].MessageID
	}
	out, _ := json.Marshal(map[string]string{"delivered": id})
	fmt.Fprintf(env.stdout, "%s\n", out)
	if violations > 0 {
		return exitFailed
	}
	return exitOK
}

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
