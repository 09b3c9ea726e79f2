// Package conf fills in the settings a caller left out. It is the rule of
// the module's constructors, written once: a count, a size or a duration
// that is zero or negative takes its default, and so does a clock left
// nil. A logger left nil takes slog.Default through cmp.Or. A duration
// setting checked by [Durations] is stricter: negative is an error, and
// only zero takes the default.
package conf

import (
	"fmt"
	"time"
)

// Number is a setting that counts or measures: a limit, a size, a
// duration.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~float32 | ~float64
}

// Default sets *p to def if *p is zero or negative.
func Default[T Number](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}

// Clock sets *now to time.Now if it is nil.
func Clock(now *func() time.Time) {
	if *now == nil {
		*now = time.Now
	}
}

// Duration is a duration setting: the name an error gives it, the field
// and its default.
type Duration struct {
	Name    string
	Value   *time.Duration
	Default time.Duration
}

// NonNegative applies the rule of a duration setting to d: a negative
// value is an error, "<name> must not be negative"; zero takes the
// default; a positive value stays.
func NonNegative(name string, d *time.Duration, def time.Duration) error {
	if *d < 0 {
		return fmt.Errorf("%s must not be negative", name)
	}
	if *d == 0 {
		*d = def
	}
	return nil
}

// Durations applies [NonNegative] to each of ds in order, naming each
// prefix+Name, and returns the error of the first negative one.
func Durations(prefix string, ds []Duration) error {
	for _, d := range ds {
		if err := NonNegative(prefix+d.Name, d.Value, d.Default); err != nil {
			return err
		}
	}
	return nil
}
