package httpx

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	Error(rec, http.StatusNotFound, `Tenant "x" not found`)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, `{"error":"Tenant \"x\" not found"}`, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, 1},
		{200 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Microsecond, 2},
		{59*time.Second + 999*time.Millisecond, 60},
		{math.MaxInt64, 9223372037}, // a wait that a setting of "forever" gives
		{math.MaxInt64 - time.Second + 2, 9223372036},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, CeilSeconds(tt.d), tt.d)
	}
}
