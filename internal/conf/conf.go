// Package conf fills in the settings a caller left out. It is the rule of
// the module's constructors, written once: a count, a size or a duration
// that is zero or negative takes its default, and so does a clock left
// nil. A logger left nil takes slog.Default through cmp.Or.
package conf

import "time"

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
