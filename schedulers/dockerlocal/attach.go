package dockerlocal

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"dokku-sshd/schedulers"
)

// The relay between the client and an attached container or exec, shared
// by run and enter. With a TTY the streams are raw bytes both ways over the
// client's untranslated stream, and window changes are passed on; without
// one, stdin is copied until the client's EOF, which is passed on as a
// half-close, and the multiplexed output is split into stdout and stderr.

// attachment is one hijacked attach (or exec start) connection.
type attachment struct {
	hr  client.HijackedResponse
	tty bool
	io  schedulers.Stdio
	// resize applies a window size to the TTY; nil without one.
	resize func(ctx context.Context, sz schedulers.WindowSize) error
}

// input and output are the client's ends: the raw stream with a relayed
// TTY when the client has a terminal, the session's stdin/stdout otherwise.
func (a *attachment) input() io.Reader {
	if a.tty && a.io.Terminal != nil && a.io.Terminal.Raw != nil {
		return a.io.Terminal.Raw
	}
	return a.io.Stdin
}

func (a *attachment) output() io.Writer {
	if a.tty && a.io.Terminal != nil && a.io.Terminal.Raw != nil {
		return a.io.Terminal.Raw
	}
	return a.io.Stdout
}

// initialSize applies the client's window size once the process exists;
// the engine refuses a resize until then, so a few tries are allowed.
func (a *attachment) initialSize(ctx context.Context) {
	t := a.io.Terminal
	if a.resize == nil || t == nil || t.Width <= 0 || t.Height <= 0 {
		return
	}
	sz := schedulers.WindowSize{Width: t.Width, Height: t.Height}
	for try := 0; try < 10; try++ {
		if err := a.resize(ctx, sz); err == nil {
			return
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return
		}
	}
}

// relay copies both ways until the process's output ends or ctx is done;
// it returns ctx's error in the latter case. Input that is still being
// read when the output ends is abandoned (the client's stream ends with
// the session).
func (a *attachment) relay(ctx context.Context) error {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { a.hr.Close() })
	defer stop()

	var wg sync.WaitGroup
	if a.tty && a.resize != nil && a.io.Terminal != nil && a.io.Terminal.Resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case sz, ok := <-a.io.Terminal.Resize:
					if !ok {
						return
					}
					_ = a.resize(ctx, sz)
				}
			}
		}()
	}
	in := a.input()
	go func() {
		if in != nil {
			_, _ = io.Copy(a.hr.Conn, in)
		}
		// The client's EOF: the process's stdin ends, its output goes on.
		_ = a.hr.CloseWrite()
	}()

	var err error
	if a.tty {
		_, err = io.Copy(a.output(), a.hr.Reader)
	} else {
		_, err = stdcopy.StdCopy(a.io.Stdout, a.io.Stderr, a.hr.Reader)
	}
	close(done)
	wg.Wait()
	a.hr.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
