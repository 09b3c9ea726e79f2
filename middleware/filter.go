package middleware

import (
	"hash/maphash"
	"math/bits"
)

// Sizing of a filter: each part has at least filterBits bits per name it
// is meant to hold and tests filterProbes of them, which makes its false
// positive rate at most about 1 in 100,000 when full, and far lower before.
const (
	filterBits   = 24
	filterProbes = 16
	// filterMinCap is the capacity of the first part.
	filterMinCap = 1 << 16
)

// filter is a Bloom filter that grows: a set of names that answers "maybe"
// for every name added and, with a small probability, for a name never
// added; it cannot forget a name. When its last part is full it adds one
// of twice the capacity, so that it holds any number of names without
// knowing the number in advance, at 3 to 12 bytes each (parts are rounded
// up to a power of two bits, and the last one may be nearly empty; a
// million names loaded take 7 MiB), and its false positive rate stays
// below the sum of its parts' (each part is tested).
//
// The names are hashed with a seed chosen at random for each filter, so
// that nobody outside the process can search for names the filter
// wrongly holds. A filter is not safe for concurrent use.
type filter struct {
	seed  maphash.Seed
	parts []*filterPart
	n     int
}

// filterPart is one Bloom filter of a power-of-two number of bits.
type filterPart struct {
	words []uint64
	mask  uint64
	n     int
	cap   int
}

func newFilter(capacity int) *filter {
	f := &filter{seed: maphash.MakeSeed()}
	f.grow(max(capacity, filterMinCap))
	return f
}

func (f *filter) grow(capacity int) {
	nbits := uint64(1) << bits.Len64(uint64(capacity*filterBits-1))
	f.parts = append(f.parts, &filterPart{
		words: make([]uint64, nbits/64),
		mask:  nbits - 1,
		cap:   capacity,
	})
}

// add puts name in the filter.
func (f *filter) add(name string) {
	last := f.parts[len(f.parts)-1]
	if last.n >= last.cap {
		f.grow(2 * last.cap)
		last = f.parts[len(f.parts)-1]
	}
	h1, h2 := f.hash(name)
	for i := range uint64(filterProbes) {
		p := (h1 + i*h2) & last.mask
		last.words[p/64] |= 1 << (p % 64)
	}
	last.n++
	f.n++
}

// has reports whether name may have been added: always true for a name
// that was, rarely true for one that was not.
func (f *filter) has(name string) bool {
	h1, h2 := f.hash(name)
	for _, part := range f.parts {
		if part.has(h1, h2) {
			return true
		}
	}
	return false
}

func (p *filterPart) has(h1, h2 uint64) bool {
	for i := range uint64(filterProbes) {
		b := (h1 + i*h2) & p.mask
		if p.words[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// hash returns the two hashes of name whose combinations h1 + i*h2 are
// the probed bits (Kirsch and Mitzenmacher's double hashing); h2 is odd,
// so that the probes of one name never repeat within a part.
func (f *filter) hash(name string) (h1, h2 uint64) {
	h := maphash.String(f.seed, name)
	return h, bits.RotateLeft64(h, 32) | 1
}

// bytes returns the memory the filter's bits take.
func (f *filter) bytes() int {
	n := 0
	for _, p := range f.parts {
		n += 8 * len(p.words)
	}
	return n
}
