package retry

import (
	"testing"
	"time"
)

func policy() *Policy {
	return &Policy{Initial: 500 * time.Millisecond, Max: 4 * time.Second, Jitter: func() float64 { return 0.5 }, Attempts: 6, MaxTime: time.Minute}
}

func TestBackoffCurveCapAndAttempts(t *testing.T) {
	start := time.Unix(0, 0)
	s := policy().Start(start)
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		s.Begin()
		d, ok := s.Next(start, 0)
		if !ok || d != w {
			t.Fatalf("delay %d: got %v %v, want %v", i, d, ok, w)
		}
	}
	s.Begin()
	if _, ok := s.Next(start, 0); ok {
		t.Fatal("a 7th attempt was allowed with Attempts 6")
	}
	if s.Attempts() != 6 {
		t.Fatalf("attempts %d", s.Attempts())
	}
}

func TestJitterRangeAndFloor(t *testing.T) {
	start := time.Unix(0, 0)
	for _, j := range []struct {
		r    float64
		want time.Duration
	}{{0, 250 * time.Millisecond}, {0.75, 625 * time.Millisecond}} {
		p := policy()
		p.Jitter = func() float64 { return j.r }
		s := p.Start(start)
		s.Begin()
		if d, _ := s.Next(start, 0); d != j.want {
			t.Errorf("jitter %v: got %v want %v", j.r, d, j.want)
		}
	}
	s := policy().Start(start)
	s.Begin()
	if d, _ := s.Next(start, 30*time.Second); d != 30*time.Second {
		t.Errorf("a server-given floor above the cap wins: got %v", d)
	}
}

func TestRefundAndTimeBudget(t *testing.T) {
	start := time.Unix(0, 0)
	p := policy()
	p.Attempts = 1
	s := p.Start(start)
	s.Begin()
	s.Refund()
	if _, ok := s.Next(start, time.Second); !ok {
		t.Fatal("a refunded attempt must not use up the budget")
	}
	p = policy()
	p.MaxTime = 2 * time.Second
	s = p.Start(start)
	s.Begin()
	if _, ok := s.Next(start.Add(1600*time.Millisecond), 0); ok {
		t.Fatal("1.6 s + 0.5 s is past a 2 s budget")
	}
}
