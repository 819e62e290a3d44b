package schedulers

import (
	"context"
	"io"
	"time"

	"dokku-sshd/output"
)

// One-off processes (run, run:detached, run:list, run:stop) and exec into
// running ones (enter) are optional: a scheduler that can do them
// implements Runner and Enterer (Dokku's scheduler-run, scheduler-run-list,
// scheduler-run-stop, scheduler-run-retire and scheduler-enter triggers).

// DefaultShell is the shell run and enter start when they are given no
// command and the scheduler's shell property is unset.
const DefaultShell = "/bin/bash"

// ShellCommand is the command of a run or enter given none: shell, else
// DefaultShell.
func ShellCommand(shell string) []string {
	if shell == "" {
		shell = DefaultShell
	}
	return []string{shell}
}

// DefaultRunTTL is the active deadline of a run container when none is
// given (Dokku's 86400 seconds).
const DefaultRunTTL = 86400

// Dokku's run:stop outcomes that are not failures (exit 0).
var (
	ErrNoRunContainers = output.Userf("No run containers exist")
	ErrNoSuchContainer = output.Userf("Specified container does not exist")
)

// WindowSize is a terminal size in characters.
type WindowSize struct{ Width, Height int }

// Terminal is the client's terminal, relayed to a TTY in the container.
type Terminal struct {
	Term          string
	Width, Height int
	// Resize delivers window changes (the newest one when several
	// happened since the last read).
	Resize <-chan WindowSize
	// Raw is the client's byte stream with no translation either way: the
	// relay reads keystrokes from it and writes the TTY's output to it.
	Raw io.ReadWriter
}

// Stdio is what a process in a container is attached to. With Terminal
// set, the process gets a TTY relayed over Terminal.Raw and Stdin/Stdout/
// Stderr only carry messages; without it, stdin is attached and stdout and
// stderr stay separate.
type Stdio struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Terminal *Terminal
}

// RunOptions describe a one-off container.
type RunOptions struct {
	App   string
	Image string // the deployed image
	// Legacy: Image is the tag recorded for an app deployed before
	// releases were recorded; a scheduler that can tell which image the
	// app's containers run uses that instead (a failed build may have
	// moved the tag).
	Legacy bool
	// Command is the command as words (no shell in between); empty runs
	// Shell. A first word that is a key of Process is replaced by that
	// Procfile command.
	Command []string
	Shell   string            // the scheduler shell property; "" is /bin/bash
	Env     []string          // KEY=VALUE pairs from -e, passed literally, after Config
	Config  map[string]string // the app's merged config
	Process map[string]string // the deployed Procfile; nil when unknown
	TTL     int               // seconds before the container is stopped; 0 is DefaultRunTTL
	Labels  map[string]string // extra labels (global --label flags)
	// Detach starts the container and returns its name; it is removed
	// when it exits.
	Detach bool
	// TTY gives the container a TTY; attached, it is relayed over
	// Stdio.Terminal.Raw (Stdin/Stdout when the client has no terminal).
	TTY   bool
	Quiet bool // no "Found '<key>' in Procfile" line
	Stdio
}

// RunContainer is one one-off container of an app, for run:list.
type RunContainer struct {
	Name    string
	State   string // Docker's state: running, exited, ...
	Command string
	Created time.Time
}

// Runner runs one-off containers.
type Runner interface {
	// Run starts a one-off container. Attached, it returns when the
	// process ends, with its exit status, and the container is gone; a
	// cancelled ctx (the client went away) stops and removes it.
	// Detached, it returns the container's name once it runs.
	Run(ctx context.Context, o *RunOptions) (name string, status int, err error)
	// RunList lists app's one-off containers, oldest first.
	RunList(ctx context.Context, app string) ([]RunContainer, error)
	// RunStop stops app's running one-off containers, or only name when
	// set, and returns the names of those it stopped: ErrNoRunContainers
	// when app has none, ErrNoSuchContainer when name does not exist.
	RunStop(ctx context.Context, app, name string) (stopped []string, err error)
	// RunRetire stops the one-off containers of app ("" for every app)
	// that outlived their TTL.
	RunRetire(ctx context.Context, app string) error
}

// EnterOptions describe an exec into a running container of an app.
type EnterOptions struct {
	App string
	// Target is "", a process type ("web") or a dyno ("web.2"); ID, when
	// set, is a container id (or a prefix of one) instead.
	Target  string
	ID      string
	Command []string // empty runs Shell
	Shell   string   // "" is /bin/bash
	Stdio
}

// Enterer executes commands in an app's running containers.
type Enterer interface {
	// Enter runs the command in the selected container and returns its
	// exit status.
	Enter(ctx context.Context, o *EnterOptions) (status int, err error)
}
