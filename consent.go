package analytics

import (
	"maps"
	"net/http"
	"slices"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Consent is context.consent: the consent preferences of the end user, as
// your consent management platform (CMP) recorded them, sent as
//
//	"consent":{"categoryPreferences":{"Advertising":true,"Analytics":false}}
//
// Segment enforces consent only on messages that carry this object: a
// message without it goes to every destination its integrations allow; a
// message with it goes only to the destinations whose consent categories
// are all true; an empty categoryPreferences means false for every
// category (https://segment.com/docs/privacy/consent-management/consent-in-segment-connections/).
//
// Set it in three places, the most specific winning as a whole:
//   - for every message: WithDefaultContext(&Context{Consent: ...});
//   - per message: msg.Context.Consent;
//   - per request: the ReadConsent request option, for Middleware and
//     ContextFromRequest (consent cookies differ between CMPs, so you say
//     how yours is read).
type Consent struct {
	// CategoryPreferences maps each consent category id, as configured in
	// the Segment workspace (e.g. "Advertising", "C0004"), to whether the
	// user consented to it. Keys are sent sorted. Nil or empty is sent as
	// {}: consent is false for every category. A key that is not valid
	// UTF-8 makes Enqueue fail with ErrInvalidValue.
	CategoryPreferences map[string]bool
}

// encodeConsent writes the "consent" member of the context.
func encodeConsent(w *jsonw.Writer, c *Consent) {
	objectStart(w, "consent")
	objectStart(w, "categoryPreferences")
	for _, k := range slices.Sorted(maps.Keys(c.CategoryPreferences)) {
		w.Key(k)
		w.Bool(c.CategoryPreferences[k])
	}
	objectEnd(w)
	objectEnd(w)
}

// ReadConsent makes Middleware and ContextFromRequest set Context.Consent
// from the request with f, which typically parses your CMP's cookie (for
// OneTrust, OptanonConsent; for your own banner, your own cookie). The
// cookie is written by the browser: f must treat it as untrusted input.
//
// f is called each time a context is built (each RequestContext call). It
// returns nil when it knows nothing, and the message then carries no
// consent object (a default context's Consent still applies); return
// &Consent{} (false for every category) if your policy is to send nothing
// before the user chose. A panic in f is recovered and treated as
// &Consent{}: when consent cannot be read, nothing is consented.
//
// Default: consent is not read from requests. A nil f has no effect.
func ReadConsent(f func(r *http.Request) *Consent) RequestOption {
	return requestOptionFunc(func(c *requestConfig) {
		if f != nil {
			c.consent = f
		}
	})
}

// readConsent calls the ReadConsent function; see there for a panic.
func readConsent(f func(*http.Request) *Consent, r *http.Request) (c *Consent) {
	defer func() {
		if recover() != nil {
			c = &Consent{}
		}
	}()
	return f(r)
}
