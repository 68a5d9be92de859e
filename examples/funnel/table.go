package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/tracklane/analytics/analyticstest"
)

// record is what the funnel table counts of one message.
type record struct {
	event string
	step  int    // Checkout Step Completed: its step
	anon  string // the shopper
	cents int64  // Order Completed, Order Refunded: revenue; Coupon Applied: discount
}

// recordOf reads a record back from a message as the collector received it.
func recordOf(m analyticstest.Message) record {
	r := record{event: m.Event, anon: m.AnonymousID}
	num := func(k string) float64 { f, _ := m.Properties[k].(float64); return f }
	switch m.Event {
	case "Checkout Step Completed":
		r.step = int(num("step"))
	case "Order Completed", "Order Refunded":
		r.cents = int64(math.Round(num("revenue") * 100))
	case "Coupon Applied":
		r.cents = int64(math.Round(num("discount") * 100))
	}
	return r
}

// A row of the table: an event, or one step of Checkout Step Completed.
type row struct {
	label, event string
	step         int
	funnel       bool // part of the conversion funnel (else a side row)
}

var rows = [...]row{
	{"Product Viewed", "Product Viewed", 0, true},
	{"Product Added", "Product Added", 0, true},
	{"Checkout Started", "Checkout Started", 0, true},
	{"Checkout Step Completed #1", "Checkout Step Completed", 1, true},
	{"Checkout Step Completed #2", "Checkout Step Completed", 2, true},
	{"Order Completed", "Order Completed", 0, true},
	{"Coupon Applied", "Coupon Applied", 0, false},
	{"Order Refunded", "Order Refunded", 0, false},
}

type cell struct {
	events   int
	shoppers map[string]struct{}
	cents    int64
}

// tally counts records per row. The zero value is not usable: use newTally.
type tally struct {
	cells [len(rows)]cell
	other int // messages that fit no row (none are sent; counted to be sure)
}

func newTally() *tally {
	t := &tally{}
	for i := range t.cells {
		t.cells[i].shoppers = make(map[string]struct{})
	}
	return t
}

func (t *tally) add(r record) {
	for i, rw := range rows {
		if rw.event == r.event && rw.step == r.step {
			c := &t.cells[i]
			c.events++
			c.shoppers[r.anon] = struct{}{}
			c.cents += r.cents
			return
		}
	}
	t.other++
}

func (t *tally) messages() int {
	n := t.other
	for _, c := range t.cells {
		n += c.events
	}
	return n
}

// summary is the comparable content of a tally.
type summary struct {
	events, shoppers [len(rows)]int
	cents            [len(rows)]int64
	other            int
}

func (t *tally) summary() summary {
	var s summary
	for i, c := range t.cells {
		s.events[i], s.shoppers[i], s.cents[i] = c.events, len(c.shoppers), c.cents
	}
	s.other = t.other
	return s
}

// print writes the funnel table.
func (s summary) print(w io.Writer) {
	line := func(label, events, shoppers, fromPrev, fromTop, revenue string) {
		l := fmt.Sprintf("%-28s %7s %9s %10s %9s %18s", label, events, shoppers, fromPrev, fromTop, revenue)
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
	line("step", "events", "shoppers", "from prev", "from top", "revenue")
	top, prev := 0, 0
	for i, rw := range rows {
		if !rw.funnel {
			continue
		}
		n := s.shoppers[i]
		fromPrev, fromTop := "-", "-"
		if i == 0 {
			top = n
		} else if prev > 0 {
			fromPrev = percent(n, prev)
		}
		if top > 0 {
			fromTop = percent(n, top)
		}
		rev := ""
		if rw.event == "Order Completed" {
			rev = dollars(s.cents[i])
		}
		line(rw.label, fmt.Sprint(s.events[i]), fmt.Sprint(n), fromPrev, fromTop, rev)
		prev = n
	}
	fmt.Fprintln(w, strings.Repeat("-", 87))
	net := int64(0)
	for i, rw := range rows {
		switch rw.event {
		case "Order Completed":
			net += s.cents[i]
		case "Coupon Applied":
			line(rw.label, fmt.Sprint(s.events[i]), fmt.Sprint(s.shoppers[i]), "", "", "discount "+dollars(s.cents[i]))
		case "Order Refunded":
			net -= s.cents[i]
			line(rw.label, fmt.Sprint(s.events[i]), fmt.Sprint(s.shoppers[i]), "", "", "-"+dollars(s.cents[i]))
		}
	}
	line("net revenue", "", "", "", "", dollars(net))
	if s.other > 0 {
		fmt.Fprintf(w, "other messages: %d\n", s.other)
	}
}

func percent(n, of int) string {
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// dollars formats cents as $1,234.56.
func dollars(cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole := fmt.Sprint(cents / 100)
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	s := fmt.Sprintf("$%s.%02d", b.String(), cents%100)
	if neg {
		s = "-" + s
	}
	return s
}
