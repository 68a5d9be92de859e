package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/tracklane/analytics/analyticstest"
	"github.com/tracklane/analytics/internal/pgtest"
	"go.uber.org/goleak"
)

var (
	dbURL      string
	skipReason string
)

// TestMain starts a throwaway PostgreSQL (see internal/pgtest) with a
// database for the example.
func TestMain(m *testing.M) {
	c, reason := pgtest.StartOrSkip()
	if c == nil {
		skipReason = reason
		os.Exit(m.Run())
	}
	code := func() int {
		defer c.Close()
		admin, err := sql.Open("pgx", c.URL("postgres"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer admin.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS shop_example")
		if _, err := admin.Exec("CREATE DATABASE shop_example"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dbURL = c.URL("shop_example")
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// A checkout commits the order and its event; the relay in the process
// delivers the event; a checkout that fails (the order exists) sends
// nothing more.
func TestCheckoutDeliversOrderCompleted(t *testing.T) {
	if dbURL == "" {
		t.Skip(skipReason)
	}
	collector := analyticstest.NewServer("key")
	defer collector.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-database-url", dbURL, "-endpoint", collector.URL, "-write-key", "key"},
			func(string) string { return "" }, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}
	post := func(query string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/checkout?"+query, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := post("user=u1&sku=45790-32&price=19&qty=2&order_id=o-1"); code != http.StatusCreated || body != "o-1" {
		t.Fatalf("checkout: %d %s", code, body)
	}
	if code, _ := post("user=u1&sku=45790-32&price=19&qty=2&order_id=o-1"); code != http.StatusConflict {
		t.Fatalf("second checkout of the same order: %d", code)
	}
	if code, _ := post("user=u1&sku=x&price=-1&qty=1"); code != http.StatusBadRequest {
		t.Fatalf("negative price: %d", code)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := collector.WaitFor(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	got := collector.Tracks("Order Completed")
	if len(got) != 1 || collector.Len() != 1 || len(collector.Violations()) != 0 {
		t.Fatalf("collector has %d Order Completed, %d messages, violations %v", len(got), collector.Len(), collector.Violations())
	}
	if id := got[0].Properties["order_id"]; id != "o-1" {
		t.Errorf("order_id = %v", id)
	}
}

func TestRunNeedsDatabase(t *testing.T) {
	err := run(context.Background(), nil, func(string) string { return "" }, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "database-url") {
		t.Errorf("run without a database: %v", err)
	}
}
