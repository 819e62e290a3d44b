package gitrecv

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// PushObserver is told of each git-receive-pack, for metrics
// (metrics.Metrics implements it; Server.Observer nil: nobody is told).
// bytes is what the client sent (commands and pack); result is one of the
// Push* results.
type PushObserver interface {
	PushDone(bytes int64, d time.Duration, result string)
}

// Results of a receive-pack.
const (
	PushAccepted     = "accepted"      // every ref updated
	PushRejected     = "rejected"      // some ref refused: stale, missing objects, failed update
	PushDeclined     = "declined"      // the deploy (pre-receive) failed: no ref moved
	PushUnpackFailed = "unpack_failed" // the pack was refused (corrupt, too large)
	PushUpToDate     = "up_to_date"    // the client had nothing to send
	PushRefused      = "refused"       // ended before the client sent a byte: app name, auto-creation, deploy lock
	PushFailed       = "failed"        // ended without a report: protocol error, or the client went away
)

// pushRecord follows one receive-pack for the observer.
type pushRecord struct {
	obs    PushObserver
	start  time.Time
	bytes  atomic.Int64 // the pack is copied on another goroutine
	result atomic.Pointer[string]
}

type pushRecordKey struct{}

// startPush wraps in to count bytes and puts a record in ctx for the report
// to fill; a nil record when there is no observer.
func (g *Server) startPush(ctx context.Context, in io.Reader) (context.Context, io.Reader, *pushRecord) {
	if g.Observer == nil {
		return ctx, in, nil
	}
	r := &pushRecord{obs: g.Observer, start: time.Now()}
	return context.WithValue(ctx, pushRecordKey{}, r), countingReader{in, r}, r
}

func pushRecordFrom(ctx context.Context) *pushRecord {
	r, _ := ctx.Value(pushRecordKey{}).(*pushRecord)
	return r
}

// reported records the outcome the report tells the client.
func (r *pushRecord) reported(unpackErr string, rs []status) {
	if r == nil {
		return
	}
	result := PushAccepted
	switch {
	case unpackErr != "":
		result = PushUnpackFailed
	case declined(rs):
		result = PushDeclined
	case anyFailed(rs):
		result = PushRejected
	}
	r.result.Store(&result)
}

func declined(rs []status) bool {
	for _, s := range rs {
		if s.reason == hookDeclined {
			return true
		}
	}
	return false
}

// end tells the observer, once Serve returns code.
func (r *pushRecord) end(code int) {
	if r == nil {
		return
	}
	result := PushFailed
	switch p := r.result.Load(); {
	case p != nil:
		result = *p
	case code == 0:
		result = PushUpToDate
	case r.bytes.Load() == 0:
		result = PushRefused
	}
	r.obs.PushDone(r.bytes.Load(), time.Since(r.start), result)
}

type countingReader struct {
	r   io.Reader
	rec *pushRecord
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.rec.bytes.Add(int64(n))
	return n, err
}
