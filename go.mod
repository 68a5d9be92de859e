module github.com/tracklane/analytics

go 1.25

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/google/uuid v1.6.0
)
