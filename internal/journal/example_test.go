//go:build unix

package journal_test

import (
	"fmt"
	"os"

	"github.com/tracklane/analytics/internal/journal"
)

// A journal's life: append on accept, ack on the final outcome, sync on
// the flush interval; a crash before the ack means the record comes back
// at the next Open.
func Example() {
	dir, _ := os.MkdirTemp("", "journal")
	defer os.RemoveAll(dir)

	j, _, err := journal.Open(dir, journal.Options{MaxBytes: journal.MinBytes})
	if err != nil {
		fmt.Println(err)
		return
	}
	delivered, _ := j.Append([]byte(`{"messageId":"m-1"}`))
	_, _ = j.Append([]byte(`{"messageId":"m-2"}`))
	_ = j.Ack(delivered) // m-1 was delivered; m-2 is still waiting
	_ = j.Sync()
	_ = j.Close()

	j, rep, err := journal.Open(dir, journal.Options{MaxBytes: journal.MinBytes})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Records {
		fmt.Printf("replayed %s\n", r.Data)
	}
	fmt.Println("lost:", len(rep.Lost))
	_, _, err = journal.Open(dir, journal.Options{MaxBytes: journal.MinBytes})
	fmt.Println("second open:", err != nil)
	_ = j.Close()
	// Output:
	// replayed {"messageId":"m-2"}
	// lost: 0
	// second open: true
}
