package msgids

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestScan(t *testing.T) {
	assert.Nil(t, Scan(nil))
	assert.Nil(t, Scan([]byte(`{"type":"track"}`)))
	assert.Equal(t, []string{"a", "b-2"}, Scan([]byte(`{"batch":[{"messageId":"a","x":1},{"event":"E","messageId":"b-2"}]}`)))
	assert.Equal(t, []string{"a"}, Scan([]byte(`{"messageId":"a"},{"messageId":"trunc`)), "a torn value is not an id")
	assert.Equal(t, []string{""}, Scan([]byte(`{"messageId":""}`)))
}
