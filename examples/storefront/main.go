// Command storefront is a small net/http shop (product pages, cart,
// two checkout steps, order) whose handlers send Segment ecommerce events
// with request enrichment: each handler needs one extra line,
//
//	ev.Context = analytics.RequestContext(r.Context())
//
// to send the visitor's ip, userAgent, locale, page, campaign and consent,
// and one more,
//
//	ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID
//
// to send the browser's anonymous id: the ajs_anonymous_id cookie, which
// the middleware sets on a shopper's first request, so one id follows the
// whole visit from the product page to the order (and analytics.js, if the
// pages ran it, would use the same one). The landing page's campaign (UTM
// parameters) is kept in a cookie and sent with the visit's later events.
//
//	go run ./examples/storefront                       # events go to an embedded collector
//	go run ./examples/storefront -endpoint https://api.segment.io -write-key KEY
//	go run ./examples/storefront -trusted-proxies 10.0.0.0/8,fd00::/8
//	go run ./examples/storefront -public-url https://shop.example   # base of the product URLs sent
//
// Then open http://localhost:8080/products/507f1f77?utm_source=newsletter.
// On SIGINT or SIGTERM it stops accepting requests, finishes those in
// flight, and closes the client with a deadline (-shutdown-timeout), so
// queued events are delivered before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "storefront:", err)
		os.Exit(1)
	}
}

// run serves the shop until ctx ends or SIGINT/SIGTERM arrives, then shuts
// down. ready, when not nil, is told the listening address.
func run(ctx context.Context, args []string, getenv func(string) string, logw io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("storefront", flag.ContinueOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "localhost:8080", "listen address")
	endpoint := fs.String("endpoint", "", "base URL of a Segment-compatible endpoint (default: an embedded collector)")
	writeKey := fs.String("write-key", "", "write key for -endpoint (default $SEGMENT_WRITE_KEY)")
	proxies := fs.String("trusted-proxies", "", "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-* headers are believed")
	publicURL := fs.String("public-url", "", "the shop's public base URL, for absolute product URLs (default http://<listen address>)")
	shutdown := fs.Duration("shutdown-timeout", 10*time.Second, "how long shutdown may take to finish requests and deliver queued events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logw, nil))

	var trusted []netip.Prefix
	for _, s := range strings.Split(*proxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("-trusted-proxies: %w", err)
		}
		trusted = append(trusted, p)
	}

	var collector *analyticstest.Server
	if *endpoint == "" {
		*writeKey = "storefront-demo-key"
		collector = analyticstest.NewServer(*writeKey)
		defer collector.Close()
		*endpoint = collector.URL
		log.Info("no -endpoint: events go to an embedded Segment-compatible collector")
	} else if *writeKey == "" {
		if *writeKey = getenv("SEGMENT_WRITE_KEY"); *writeKey == "" {
			return errors.New("-endpoint needs a write key: -write-key or SEGMENT_WRITE_KEY")
		}
	}
	client, err := analytics.New(*writeKey, analytics.WithEndpoint(*endpoint), analytics.WithLogger(log),
		analytics.WithDefaultContext(&analytics.Context{App: &analytics.AppInfo{Name: "storefront"}}))
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		_ = client.Close(ctx)
		return err
	}
	origin := *publicURL
	if origin == "" {
		origin = "http://" + ln.Addr().String()
	}
	if u, err := url.Parse(origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		_ = client.Close(ctx)
		_ = ln.Close()
		return fmt.Errorf("-public-url: want an absolute http(s) URL, got %q", origin)
	}
	srv := &http.Server{
		Handler:           newStore(client, log, origin).routes(analytics.TrustProxies(trusted...)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("storefront listening", "url", "http://"+ln.Addr().String()+"/")
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-served: // the listener failed
		_ = client.Close(context.Background())
		return err
	}
	stop() // a second signal kills the process the default way

	// Shut down within one deadline: first the HTTP server (no new events),
	// then the client (deliver what is queued).
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	log.Info("shutting down", "timeout", *shutdown)
	errs := []error{srv.Shutdown(sctx)}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	errs = append(errs, client.Close(sctx))
	st := client.Stats()
	log.Info("analytics closed", "enqueued", st.Enqueued, "delivered", st.Delivered, "failed", st.Failed, "refused", st.Refused)
	if collector != nil {
		log.Info("embedded collector", "received", collector.Len(), "violations", len(collector.Violations()))
	}
	return errors.Join(errs...)
}
