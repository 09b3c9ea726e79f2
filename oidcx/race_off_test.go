//go:build !race

package oidcx

// raceEnabled reports whether the race detector is on; the longest
// figure-only tests skip themselves then.
const raceEnabled = false
