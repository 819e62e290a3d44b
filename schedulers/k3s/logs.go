package k3s

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.LogStreamer = (*Scheduler)(nil)

// logColors are the prefix colours Dokku's k3s logs give the pods in turn
// (red, yellow, green, cyan, blue, magenta).
var logColors = []int{31, 33, 32, 36, 34, 35}

// maxLogLine bounds what is buffered of a line that never ends: past it,
// the part read so far is written as a line of its own.
const maxLogLine = 64 << 10

// Logs streams the logs of app's pods (part-of=APP, name=PROC with
// o.ProcessType; PROC.N is the N-th of them by name), all at once, to w
// (scheduler-logs). Each line is `ESC[<c>mapp[<pod>]: ESC[0m<message>`,
// or the raw line with o.Quiet. The pods are those that exist at the
// start; with o.Follow it returns when ctx ends or every pod's log has
// ended.
func (s *Scheduler) Logs(ctx context.Context, app string, o schedulers.LogOptions, w io.Writer) error {
	d, err := parseDyno(app, o.ProcessType)
	if err != nil {
		return err
	}
	c, err := s.open(app)
	if err != nil {
		return err
	}
	pods, err := c.appPods(ctx, app, d.proc)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		if d.proc != "" {
			return output.Userf("No pods found matching specified labels%w", silent{schedulers.ErrNoProcess})
		}
		return output.Userf("No pods found matching specified labels")
	}
	if pods, err = d.pick(app, pods); err != nil {
		return err
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A failed write means the client is gone: every stream stops.
	out := schedulers.NewLogOut(w, cancel)
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		prefix := ""
		if !o.Quiet {
			prefix = "\x1b[" + strconv.Itoa(logColors[i%len(logColors)]) + "mapp[" + pods[i].Name + "]: \x1b[0m"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					s.log().Error("logs: panic", "app", app, "pod", pods[i].Name, "panic", r)
					errs[i] = fmt.Errorf("logs of pod %s: internal error", pods[i].Name)
					cancel()
				}
			}()
			errs[i] = c.podLogs(sctx, &pods[i], o, prefix, out)
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

// podLogs copies one pod's log (its main container's) to out, a line at a
// time with prefix, until it ends or ctx does.
func (c *cluster) podLogs(ctx context.Context, p *corev1.Pod, o schedulers.LogOptions, prefix string, out *schedulers.LogOut) error {
	lo := &corev1.PodLogOptions{Container: mainContainer(p), Follow: o.Follow}
	if o.Num >= 0 {
		n := int64(o.Num)
		lo.TailLines = &n
	}
	rc, err := c.stream.CoreV1().Pods(c.ns).GetLogs(p.Name, lo).Stream(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.fail("streaming the logs of pod "+p.Name, err)
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, maxLogLine)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			line = appendLogLine(line[:0], prefix, chunk)
			if _, werr := out.Write(line); werr != nil {
				return nil // the client is gone; Logs reports it once
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) || ctx.Err() != nil:
			return nil
		default:
			return c.fail("streaming the logs of pod "+p.Name, err)
		}
	}
}

// appendLogLine appends prefix and chunk, a line with or without its
// newline (a partial line at the end of the stream or past maxLogLine),
// ending in exactly one newline.
func appendLogLine(dst []byte, prefix string, chunk []byte) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, chunk...)
	if chunk[len(chunk)-1] != '\n' {
		dst = append(dst, '\n')
	}
	return dst
}
