package analytics

import "github.com/tracklane/analytics/internal/jsonw"

// Page and Screen properties filled as analytics.js fills them: the call's
// name and category, and for a page the fields of its context.page (path,
// referrer, search, title, url), so that destinations and warehouse tables
// that read properties.category or properties.url get them
// (https://segment.com/docs/connections/spec/page/#properties).

// pageOf returns the context.page a message will carry: its own, or the
// default context's.
func pageOf(def, msg *Context) *PageInfo {
	if msg != nil && msg.Page != nil {
		return msg.Page
	}
	if def != nil {
		return def.Page
	}
	return nil
}

// encodePageDefaults writes, into the open properties object, each of name,
// category, path, referrer, search, title and url that is known and that
// the caller's Properties do not set (a key present in Properties wins,
// whatever its value). pg is nil for a screen.
func encodePageDefaults(w *jsonw.Writer, m *Page, pg *PageInfo) {
	def := func(qk, key, v string) {
		if v == "" {
			return
		}
		if _, set := m.Properties[key]; !set {
			w.StringMember(qk, v)
		}
	}
	def(`"name":`, "name", m.Name)
	def(`"category":`, "category", m.Category)
	if pg == nil {
		return
	}
	def(`"path":`, "path", pg.Path)
	def(`"referrer":`, "referrer", pg.Referrer)
	def(`"search":`, "search", pg.Search)
	def(`"title":`, "title", pg.Title)
	def(`"url":`, "url", pg.URL)
}
