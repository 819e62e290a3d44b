package schedulers

import (
	"context"
	"errors"
	"io"
)

// LogOptions are the flags of `dokku logs` that a scheduler's
// scheduler-logs trigger receives.
type LogOptions struct {
	// ProcessType limits the logs to one process type ("web"); a dyno
	// ("web.2") limits them to one container. "" means every process.
	ProcessType string
	// Follow keeps streaming until the context is cancelled (-t).
	Follow bool
	// Quiet prints the raw log lines: no timestamp, name or colour (-q).
	Quiet bool
	// Num is how many of the last lines of each container to show first
	// (-n); negative means all of them.
	Num int
}

// LogStreamer is a Scheduler that can show the logs of an app's processes
// (scheduler-logs). Schedulers that run nothing do not implement it.
type LogStreamer interface {
	// Logs writes the logs of app's processes to w, whole lines at a time
	// (lines of different processes never mix). With o.Follow it returns
	// only when ctx ends or every process's log has ended.
	Logs(ctx context.Context, app string, o LogOptions, w io.Writer) error
}

// ErrNoProcess is returned (wrapped) by Logs when o.ProcessType names
// no process of the app.
var ErrNoProcess = errors.New("no such process")
