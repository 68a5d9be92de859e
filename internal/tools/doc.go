// Package tools pins the development tools of the repository (golangci-lint)
// in a module of its own, so they never enter the import graph of the
// library's users. Run them with `go tool -modfile=internal/tools/go.mod NAME`.
package tools
