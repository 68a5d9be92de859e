package statsmetrics

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
)

// TestEveryStatsFieldHasOneSeries gives every Stats field a distinct value
// and checks that the tables read each field once, but the four that each
// module shapes its own way (Delivered and Spooled, and Failed and Refused,
// the sums of the reasons).
func TestEveryStatsFieldHasOneSeries(t *testing.T) {
	var s analytics.Stats
	v := reflect.ValueOf(&s).Elem()
	field := map[uint64]string{}
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Int:
			f.SetInt(int64(i + 1))
		default:
			t.Fatalf("Stats.%s: %s is neither a total nor a level", v.Type().Field(i).Name, f.Kind())
		}
		field[uint64(i+1)] = v.Type().Field(i).Name
	}
	var read []string
	for _, r := range slices.Concat(Failed, Refused) {
		read = append(read, field[r.Count(s)])
	}
	for _, c := range Counters {
		read = append(read, field[c.Count(s)])
	}
	for _, g := range Gauges {
		read = append(read, field[uint64(g.Level(s))])
	}
	read = append(read, "Delivered", "Spooled", "Failed", "Refused")
	slices.Sort(read)
	var all []string
	for _, name := range field {
		all = append(all, name)
	}
	slices.Sort(all)
	assert.Equal(t, all, read)
}

// TestNamesAreDistinct: two rows with one name would make one series of
// two figures.
func TestNamesAreDistinct(t *testing.T) {
	otel, prom := map[string]bool{}, map[string]bool{}
	figures := []Figure{}
	for _, c := range Counters {
		figures = append(figures, c.Figure)
	}
	for _, g := range Gauges {
		figures = append(figures, g.Figure)
	}
	for _, f := range figures {
		assert.False(t, otel[f.OTel], f.OTel)
		assert.False(t, prom[f.Prom], f.Prom)
		assert.NotEmpty(t, f.Unit, f.OTel)
		assert.NotEmpty(t, f.Help, f.OTel)
		otel[f.OTel], prom[f.Prom] = true, true
	}
}

func TestDurationBuckets(t *testing.T) {
	b := DurationBuckets()
	assert.True(t, slices.IsSorted(b))
	assert.Equal(t, []float64{0.005, 10}, []float64{b[0], b[len(b)-1]})
	b[0] = 42
	assert.Equal(t, 0.005, DurationBuckets()[0], "each call returns its own slice")
}

var (
	errRegistered = errors.New("registered")
	errClosed     = errors.New("closed")
)

func stats(n uint64) func() analytics.Stats {
	return func() analytics.Stats { return analytics.Stats{Enqueued: n} }
}

func TestBinding(t *testing.T) {
	b := &Binding{ErrRegistered: errRegistered, ErrClosed: errClosed}
	_, ok := b.Stats()
	assert.False(t, ok, "nothing before Register")

	// A failing start binds nothing: Register may be called again.
	errStart := errors.New("start")
	require.ErrorIs(t, b.Register(stats(1), func() error { return errStart }), errStart)
	_, ok = b.Stats()
	assert.False(t, ok)

	started := 0
	require.NoError(t, b.Register(stats(2), func() error { started++; return nil }))
	s, ok := b.Stats()
	require.True(t, ok)
	assert.Equal(t, uint64(2), s.Enqueued)
	assert.ErrorIs(t, b.Register(stats(3), func() error { started++; return nil }), errRegistered)
	assert.Equal(t, 1, started, "start runs only for a Register that binds")
	assert.False(t, b.Closed())

	// Close runs stop once and returns its error every time.
	errStop := errors.New("stop")
	stopped := 0
	stop := func() error { stopped++; return errStop }
	require.ErrorIs(t, b.Close(stop), errStop)
	require.ErrorIs(t, b.Close(stop), errStop)
	assert.Equal(t, 1, stopped)
	assert.True(t, b.Closed())
	_, ok = b.Stats()
	assert.False(t, ok, "nothing after Close")
	assert.ErrorIs(t, b.Register(stats(4), nil), errClosed)
}

func TestBindingCloseBeforeRegister(t *testing.T) {
	b := &Binding{ErrRegistered: errRegistered, ErrClosed: errClosed}
	require.NoError(t, b.Close(nil))
	assert.ErrorIs(t, b.Register(stats(1), nil), errClosed)
}
