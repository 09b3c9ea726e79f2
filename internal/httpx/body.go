package httpx

import "io"

// LimitBody returns rc read to at most limit bytes. A longer body fails
// with tooLarge once the limit is reached, rather than ending as if it
// were complete: a document cut short could still parse, as something
// else. A body exactly limit bytes long ends normally, unless reading on
// fails with an error other than io.EOF, which is returned. Closing the
// result closes rc.
func LimitBody(rc io.ReadCloser, limit int64, tooLarge error) io.ReadCloser {
	return &limitedBody{rc: rc, left: limit, tooLarge: tooLarge}
}

type limitedBody struct {
	rc       io.ReadCloser
	left     int64
	tooLarge error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Tell a too-large body apart from one that ends exactly at the
		// limit: read one more byte.
		// An error there (a body cut off before the length it
		// announced) stays an error.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.tooLarge
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
