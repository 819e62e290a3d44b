package dockerlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.LogStreamer = (*Scheduler)(nil)

// logColors are the prefix colours Dokku gives the containers in turn.
var logColors = []int{36, 33, 32, 35, 31}

// maxLogLine bounds what is buffered of a line that never ends: past it,
// the part read so far is written as a line of its own.
const maxLogLine = 64 << 10

// Logs streams the docker logs of app's containers (those of the
// CONTAINER.* files, only o.ProcessType's when set), all at once, to w
// (scheduler-logs). Each line is `ESC[<c>m<timestamp> app[<dyno>]:ESC[0m
// <message>`, or the raw line with o.Quiet. With o.Follow it returns when
// ctx ends or every container's log has ended (the container was
// removed); only the containers that exist at the start are followed.
func (s *Scheduler) Logs(ctx context.Context, app string, o schedulers.LogOptions, w io.Writer) error {
	all, err := s.slots(app)
	if err != nil {
		return fmt.Errorf("read the containers of %s: %w", app, err)
	}
	var sel []slot
	for _, sl := range all {
		if o.ProcessType == "" || sl.Proc == o.ProcessType || sl.Dyno() == o.ProcessType {
			sel = append(sel, sl)
		}
	}
	if len(sel) == 0 {
		if o.ProcessType != "" {
			return fmt.Errorf("%w: %s", schedulers.ErrNoProcess, o.ProcessType)
		}
		return nil
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A failed write means the client is gone: every stream stops.
	out := schedulers.NewLogOut(w, cancel)
	errs := make([]error, len(sel))
	var wg sync.WaitGroup
	for i, sl := range sel {
		lw := &lineWriter{out: out}
		if !o.Quiet {
			lw.head = "\x1b[" + strconv.Itoa(logColors[i%len(logColors)]) + "m"
			lw.tail = " app[" + sl.Dyno() + "]:\x1b[0m "
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					s.log().Error("logs: panic", "app", app, "dyno", sl.Dyno(), "panic", r)
					errs[i] = fmt.Errorf("logs of the %s container: internal error", sl.Dyno())
					cancel()
				}
			}()
			errs[i] = s.containerLogs(sctx, sl, o, lw)
		}()
	}
	wg.Wait()
	// The client hung up (or pressed ^C): ctx ended, whatever the writes did.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := out.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// containerLogs copies one container's log to lw until it ends or ctx
// does; the API stream is closed when it returns.
func (s *Scheduler) containerLogs(ctx context.Context, sl slot, o schedulers.LogOptions, lw *lineWriter) error {
	ins, err := s.Client.ContainerInspect(ctx, sl.ID, client.ContainerInspectOptions{})
	switch {
	case ctx.Err() != nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return output.Userf("No such container: %s", sl.ID)
	case err != nil:
		return fmt.Errorf("inspect the %s container: %w", sl.Dyno(), err)
	}
	tail := "all"
	if o.Num >= 0 {
		tail = strconv.Itoa(o.Num)
	}
	rc, err := s.Client.ContainerLogs(ctx, sl.ID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: !o.Quiet, Follow: o.Follow, Tail: tail,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("logs of the %s container: %w", sl.Dyno(), err)
	}
	defer rc.Close()
	// A container with a TTY has one raw stream; others are multiplexed.
	if ins.Container.Config != nil && ins.Container.Config.Tty {
		_, err = io.Copy(lw, rc)
	} else {
		_, err = stdcopy.StdCopy(lw, lw, rc)
	}
	if ferr := lw.flush(); err == nil {
		err = ferr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of the %s container: %w", sl.Dyno(), err)
	}
	return nil
}

// lineWriter cuts one container's log into lines and formats them:
// head + timestamp + tail + message, or the line as is when head is "".
type lineWriter struct {
	out        *schedulers.LogOut
	head, tail string
	buf        []byte // the start of a line not ended yet
	chunk      []byte // formatted lines of one Write
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	l.chunk = l.chunk[:0]
	rest := l.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) < maxLogLine {
				break
			}
			l.chunk = l.format(l.chunk, rest[:maxLogLine])
			rest = rest[maxLogLine:]
			continue
		}
		l.chunk = l.format(l.chunk, rest[:i])
		rest = rest[i+1:]
	}
	l.buf = l.buf[:copy(l.buf, rest)]
	if len(l.chunk) > 0 {
		if _, err := l.out.Write(l.chunk); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes a last line that had no newline.
func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	line := l.format(nil, l.buf)
	l.buf = l.buf[:0]
	_, err := l.out.Write(line)
	return err
}

func (l *lineWriter) format(dst, line []byte) []byte {
	if l.head == "" {
		dst = append(dst, line...)
		return append(dst, '\n')
	}
	// docker logs -t: "<RFC 3339 timestamp> <message>"
	ts, msg, _ := bytes.Cut(line, []byte(" "))
	dst = append(dst, l.head...)
	dst = append(dst, ts...)
	dst = append(dst, l.tail...)
	dst = append(dst, msg...)
	return append(dst, '\n')
}
