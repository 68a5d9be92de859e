package syncbuf

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	assert.Empty(t, b.String())
	assert.Nil(t, b.Lines())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	assert.Len(t, b.Lines(), 8, "every line whole, none lost (run with -race)")
	_, _ = b.Write([]byte("\n\nlast"))
	assert.Len(t, b.Lines(), 9, "empty lines are not lines")
	assert.Equal(t, "last", b.Lines()[8])
}
