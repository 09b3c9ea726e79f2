package oidcx

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// DefaultMaxTracked is the default of [Config.MaxTracked].
const DefaultMaxTracked = 50_000

// fingerprint identifies a tenant's OIDC settings in little memory: the
// first 16 bytes of the SHA-256 of issuer, audience and JWKS URI.
type fingerprint [16]byte

func (s settings) fingerprint() fingerprint {
	h := sha256.New()
	for _, f := range []string{s.issuer, s.audience, s.jwksURI} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var fp fingerprint
	copy(fp[:], h.Sum(nil))
	return fp
}

// errRecentlyFetched is the cause of the refusal to build a tenant's
// verifier again within the refresh interval of its last fetch: its
// verifier was dropped from a full cache, and building it anew on every
// request is what a stream of forged tokens over many tenants would ask.
var errRecentlyFetched = errors.New("keys fetched less than the refresh interval ago; verifier dropped from a full cache")

// errTooManyTracked is the cause of the refusal to fetch for a tenant when
// the limits table is full of tenants that fetched within the horizon.
var errTooManyTracked = errors.New("too many tenants fetched from recently")

// fetchState is what one tenant's fetches owe the limits: when the next
// fetch may start, and the failures that set it. It lives in [limits],
// apart from the verifier cache, so that a verifier dropped from the
// cache forgets none of it.
type fetchState struct {
	id       string
	fp       fingerprint
	next     time.Time // no build or JWKS fetch before this
	failures int       // consecutive failed builds
	err      error     // the last failure, cut short; nil after a success
	building bool      // a build is in flight
	touched  time.Time // last change, for the bound
	elem     *list.Element
}

// limits holds the fetch state of every tenant that fetched within the
// horizon (the longest a state can hold a fetch back: the refresh interval
// or the longest back-off), at most max of them. A state older than the
// horizon restricts nothing and is dropped to make room; when every state
// is younger, a new tenant is refused the fetch until one ages out, so
// that no number of tenants turns forged tokens into more fetches.
type limits struct {
	max      int
	interval time.Duration
	horizon  time.Duration

	mu     sync.Mutex
	states map[string]*fetchState
	lru    list.List // front: most recently touched
}

func newLimits(max int, interval, horizon time.Duration) *limits {
	return &limits{max: max, interval: interval, horizon: horizon, states: make(map[string]*fetchState)}
}

// blocked reports, without reserving anything, whether a build for the
// tenant's settings fp must wait: a failure's back-off or the refresh
// interval has not passed, and no build is in flight to join.
func (l *limits) blocked(id string, fp fingerprint, now time.Time) (retryAt time.Time, cause error, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.states[id]
	if st == nil || st.fp != fp || st.building || !now.Before(st.next) {
		return time.Time{}, nil, false
	}
	return st.next, st.cause(), true
}

// startBuild reserves a build for the tenant's settings fp: it returns the
// state to hand to finishBuild, or when the build must wait, when to try
// again and why.
func (l *limits) startBuild(id string, fp fingerprint, now time.Time) (*fetchState, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, retryAt, err := l.stateLocked(id, fp, now)
	if err != nil {
		return nil, retryAt, err
	}
	if now.Before(st.next) {
		return nil, st.next, st.cause()
	}
	st.building = true
	st.next = now.Add(l.interval)
	return st, time.Time{}, nil
}

// finishBuild records the outcome of a build started at start: after a
// success the next fetch waits for the refresh interval, after a failure
// for backoff(failures). A state that was reset meanwhile is left alone.
func (l *limits) finishBuild(st *fetchState, start time.Time, err error, backoff func(int) time.Duration, now time.Time) (retryAt time.Time, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st.building = false
	if l.states[st.id] != st {
		// Reset while the build ran: the tenant starts afresh.
		return time.Time{}, 0
	}
	if err == nil {
		st.failures, st.err = 0, nil
		st.next = start.Add(l.interval)
	} else {
		st.failures++
		st.err = err
		st.next = now.Add(backoff(st.failures))
	}
	l.touchLocked(st, now)
	return st.next, st.failures
}

// startFetch reserves a JWKS fetch of a tenant whose verifier exists,
// reporting whether the refresh interval allows it.
func (l *limits) startFetch(id string, fp fingerprint, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, _, err := l.stateLocked(id, fp, now)
	if err != nil || now.Before(st.next) {
		return false
	}
	st.next = now.Add(l.interval)
	return true
}

// reset forgets the tenant's state: a tenant that was changed or deleted
// starts afresh.
func (l *limits) reset(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.states[id]; ok {
		l.lru.Remove(st.elem)
		delete(l.states, id)
	}
}

// resetAll forgets every state.
func (l *limits) resetAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.states)
	l.lru.Init()
}

// len returns the number of states held.
func (l *limits) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.states)
}

// stateLocked returns the tenant's state for settings fp, creating it, or
// replacing one kept for other settings (changed settings start afresh).
// When the table is full of states younger than the horizon, it refuses,
// saying when the oldest will have aged out.
func (l *limits) stateLocked(id string, fp fingerprint, now time.Time) (*fetchState, time.Time, error) {
	st := l.states[id]
	if st != nil && st.fp == fp {
		l.touchLocked(st, now)
		return st, time.Time{}, nil
	}
	if st != nil {
		l.lru.Remove(st.elem)
		delete(l.states, id)
	}
	if len(l.states) >= l.max {
		oldest := l.lru.Back().Value.(*fetchState)
		if until := oldest.touched.Add(l.horizon); now.Before(until) || oldest.building {
			return nil, until, errTooManyTracked
		}
		l.lru.Remove(oldest.elem)
		delete(l.states, oldest.id)
	}
	st = &fetchState{id: id, fp: fp, touched: now}
	st.elem = l.lru.PushFront(st)
	l.states[id] = st
	return st, time.Time{}, nil
}

func (l *limits) touchLocked(st *fetchState, now time.Time) {
	if now.After(st.touched) {
		st.touched = now
	}
	l.lru.MoveToFront(st.elem)
}

// cause says why a fetch waits: the last failure, or the refresh interval.
func (st *fetchState) cause() error {
	if st.err != nil {
		return st.err
	}
	return errRecentlyFetched
}
