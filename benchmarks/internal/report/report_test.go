package report

import "testing"

func TestKeepHandSections(t *testing.T) {
	old := "# old generated\n\n" + HandKept + "\n## Outbox\nmeasured by hand\n"
	got := KeepHandSections("# new generated\n", old)
	want := "# new generated\n\n" + HandKept + "\n## Outbox\nmeasured by hand\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A first run (no marker yet) writes the marker, so the next run keeps what is added below it.
	if got := KeepHandSections("# gen", "# no marker\n## lost\n"); got != "# gen\n\n"+HandKept+"\n" {
		t.Fatalf("without a marker: got %q", got)
	}
}
