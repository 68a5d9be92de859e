package otelanalytics

import "github.com/tracklane/analytics"

// Seams for the external tests.

// RegisterStats reports what stats returns (tests feed every Stats field
// a distinct value).
func (m *Metrics) RegisterStats(stats func() analytics.Stats) error { return m.register(stats) }

// Observer is m's upload observer, without an analytics.Client.
func (m *Metrics) Observer() analytics.UploadObserver { return observer{m} }

// ErrorType is errorType.
var ErrorType = errorType

// Clamp is clamp.
var Clamp = clamp
