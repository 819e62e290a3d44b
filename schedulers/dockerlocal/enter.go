package dockerlocal

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.Enterer = (*Scheduler)(nil)

// Enter executes a command in one of the app's deployed containers
// (scheduler-enter): the one of --container-id, of the dyno (web.2), the
// first of the type (web), or the first of the only type. Unlike Dokku,
// stdin is attached without a TTY too, so input can be piped in.
func (s *Scheduler) Enter(ctx context.Context, o *schedulers.EnterOptions) (int, error) {
	id, err := s.enterTarget(o)
	if err != nil {
		return 1, err
	}
	res, err := s.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) || (err == nil && (res.Container.State == nil || !res.Container.State.Running)) {
		return 1, output.Userf("Container is not running")
	}
	if err != nil {
		return 1, fmt.Errorf("inspect %s: %w", short(id), err)
	}
	cmd := o.Command
	if len(cmd) == 0 {
		cmd = schedulers.ShellCommand(o.Shell)
	}
	tty := o.Terminal != nil
	var size client.ConsoleSize
	if t := o.Terminal; tty && t.Width > 0 && t.Height > 0 {
		size = client.ConsoleSize{Width: uint(t.Width), Height: uint(t.Height)}
	}
	ex, err := s.Client.ExecCreate(ctx, id, client.ExecCreateOptions{
		TTY: tty, ConsoleSize: size, AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: cmd,
	})
	if err != nil {
		return 1, fmt.Errorf("exec in %s: %w", short(id), err)
	}
	hr, err := s.Client.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tty, ConsoleSize: size})
	if err != nil {
		return 1, fmt.Errorf("start exec in %s: %w", short(id), err)
	}
	defer hr.Close()
	s.log().Info("enter", "app", o.App, "container", short(id), "exec", short(ex.ID), "tty", tty)
	a := &attachment{hr: hr.HijackedResponse, tty: tty, io: o.Stdio}
	if tty {
		a.resize = func(ctx context.Context, sz schedulers.WindowSize) error {
			_, err := s.Client.ExecResize(ctx, ex.ID, client.ExecResizeOptions{Width: uint(sz.Width), Height: uint(sz.Height)})
			return err
		}
	}
	a.initialSize(ctx)
	if err := a.relay(ctx); err != nil {
		if ctx.Err() != nil {
			// the client went away: what it started goes too
			s.hangup(ex.ID, id)
		}
		return 1, err
	}
	// The output ends a moment before the engine records the exit.
	for {
		r, err := s.Client.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return 1, fmt.Errorf("inspect exec in %s: %w", short(id), err)
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return 1, ctx.Err()
		}
	}
}

// enterTarget picks the container id from the state files, with Dokku's
// messages for what does not match.
func (s *Scheduler) enterTarget(o *schedulers.EnterOptions) (string, error) {
	slots, err := s.slots(o.App)
	if err != nil {
		return "", err
	}
	if len(slots) == 0 {
		return "", output.Userf("App %s has not been deployed", o.App)
	}
	if o.ID != "" {
		ids := make([]string, 0, len(slots))
		for _, sl := range slots {
			if sl.ID != "" && strings.HasPrefix(sl.ID, o.ID) {
				return sl.ID, nil
			}
			ids = append(ids, sl.ID)
		}
		return "", output.Userf("Invalid container id for app: %s\nAvailable ids for app (%s): %s", o.ID, o.App, strings.Join(ids, " "))
	}
	seen := map[string]bool{}
	var types []string
	for _, sl := range slots {
		if !seen[sl.Proc] {
			seen[sl.Proc] = true
			types = append(types, sl.Proc)
		}
	}
	sort.Strings(types)
	available := fmt.Sprintf("Available types for app (%s): %s", o.App, strings.Join(types, " "))
	target := o.Target
	if target == "" {
		if len(types) > 1 {
			return "", output.Userf("No container type specified.\n%s", available)
		}
		target = types[0]
	}
	for _, sl := range slots { // sorted by type, then index: the first is the lowest
		if sl.Dyno() == target || (sl.Proc == target && !strings.Contains(target, ".")) {
			return sl.ID, nil
		}
	}
	return "", output.Userf("No containers found for type '%s'\n%s", target, available)
}
