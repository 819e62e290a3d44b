package k3s

import (
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"dokku-sshd/schedulers"
)

// The byte streams into containers (pods/exec for enter, pods/attach for
// run) go through client-go's remotecommand, as kubectl's do: WebSocket
// first, SPDY when the server cannot upgrade to it.

// remoteIO is what one exec or attach is connected to.
type remoteIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool
	term           *schedulers.Terminal // the client's terminal, for its size; nil without one
}

// stdioFor connects a remote process to the client: over the client's
// terminal (raw, both ways) when a TTY is relayed to it, else to the
// session's stdin, stdout and stderr.
func stdioFor(s schedulers.Stdio, tty bool) remoteIO {
	if tty && s.Terminal != nil && s.Terminal.Raw != nil {
		return remoteIO{stdin: s.Terminal.Raw, stdout: s.Terminal.Raw, tty: true, term: s.Terminal}
	}
	if tty {
		// A TTY with no terminal to relay it to (run --force-tty from a
		// script): its output is the session's stdout.
		return remoteIO{stdin: s.Stdin, stdout: s.Stdout, tty: true}
	}
	return remoteIO{stdin: s.Stdin, stdout: s.Stdout, stderr: s.Stderr}
}

// stream runs one exec or attach (subresource "exec" or "attach" of pod)
// until the remote side ends it or ctx ends. opts are the subresource's
// options (PodExecOptions or PodAttachOptions).
func (c *cluster) remote(ctx context.Context, pod, subresource string, opts runtime.Object, rio remoteIO) error {
	req := c.stream.CoreV1().RESTClient().Post().
		Namespace(c.ns).Resource("pods").Name(pod).SubResource(subresource).
		VersionedParams(opts, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.config, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("%s in pod %s: %w", subresource, pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.config, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("%s in pod %s: %w", subresource, pod, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("%s in pod %s: %w", subresource, pod, err)
	}
	so := remotecommand.StreamOptions{Stdin: rio.stdin, Stdout: rio.stdout, Stderr: rio.stderr, Tty: rio.tty}
	if rio.tty && rio.term != nil {
		q := newSizeQueue(ctx, rio.term)
		defer q.stop()
		so.TerminalSizeQueue = q
	}
	return ex.StreamWithContext(ctx, so)
}

// execOptions and attachOptions are the subresources' options for rio.
func execOptions(container string, cmd []string, rio remoteIO) *corev1.PodExecOptions {
	return &corev1.PodExecOptions{
		Container: container, Command: cmd,
		Stdin: rio.stdin != nil, Stdout: rio.stdout != nil, Stderr: rio.stderr != nil, TTY: rio.tty,
	}
}

func attachOptions(container string, rio remoteIO) *corev1.PodAttachOptions {
	return &corev1.PodAttachOptions{
		Container: container,
		Stdin:     rio.stdin != nil, Stdout: rio.stdout != nil, Stderr: rio.stderr != nil, TTY: rio.tty,
	}
}

// exitStatus maps the end of an exec to the command's exit status: nil is
// 0, a non-zero exit that the server reported as such (NonZeroExitCode) is
// its code; anything else is an error of the stream itself.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus(), nil
	}
	return 1, err
}

// sizeQueue hands remotecommand the client's window size: the size at the
// start, then each change, until stopped.
type sizeQueue struct {
	first   *remotecommand.TerminalSize
	changes <-chan schedulers.WindowSize
	done    chan struct{}
	ctx     context.Context
}

func newSizeQueue(ctx context.Context, t *schedulers.Terminal) *sizeQueue {
	q := &sizeQueue{changes: t.Resize, done: make(chan struct{}), ctx: ctx}
	if t.Width > 0 && t.Height > 0 {
		q.first = &remotecommand.TerminalSize{Width: uint16(t.Width), Height: uint16(t.Height)}
	}
	return q
}

// Next blocks until the next size; nil ends the queue.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if f := q.first; f != nil {
		q.first = nil
		return f
	}
	for {
		select {
		case <-q.done:
			return nil
		case <-q.ctx.Done():
			return nil
		case sz, ok := <-q.changes:
			if !ok {
				return nil
			}
			if sz.Width > 0 && sz.Height > 0 {
				return &remotecommand.TerminalSize{Width: uint16(sz.Width), Height: uint16(sz.Height)}
			}
		}
	}
}

func (q *sizeQueue) stop() { close(q.done) }
