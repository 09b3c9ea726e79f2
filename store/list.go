package store

// Page sizes of [Tenants.List].
const (
	// DefaultListLimit is the page size when List is called with a limit
	// of zero or less.
	DefaultListLimit = 50
	// MaxListLimit caps the page size, so that one call never reads an
	// unbounded number of records.
	MaxListLimit = 1000
)

// ListLimit returns the page size List uses for limit: [DefaultListLimit]
// when limit <= 0, at most [MaxListLimit].
func ListLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultListLimit
	case limit > MaxListLimit:
		return MaxListLimit
	}
	return limit
}
