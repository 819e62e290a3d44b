// Package null is Dokku's null scheduler: it runs nothing, reports the app
// as running, and lets the rest of a deploy (config, routing) happen.
package null

import (
	"context"
	"io"

	"dokku-sshd/schedulers"
)

// Scheduler is the null scheduler.
type Scheduler struct{}

var _ schedulers.Scheduler = Scheduler{}

// Name is "null".
func (Scheduler) Name() string { return "null" }

// Deploy does nothing.
func (Scheduler) Deploy(context.Context, *schedulers.Release) error { return nil }

// Status is "1 true", as scheduler-null reports.
func (Scheduler) Status(context.Context, string) (int, string, error) { return 1, "true", nil }

// IsDeployed is always true.
func (Scheduler) IsDeployed(context.Context, string) (bool, error) { return true, nil }

// Destroy has nothing to remove.
func (Scheduler) Destroy(context.Context, string) error { return nil }

// Stop has nothing to stop.
func (Scheduler) Stop(context.Context, string) error { return nil }

// Retire has nothing to retire.
func (Scheduler) Retire(context.Context, string, io.Writer) error { return nil }

// Inspect prints nothing (scheduler-null has no scheduler-inspect).
func (Scheduler) Inspect(context.Context, string, io.Writer) error { return nil }

// CloneSetup has nothing to set up.
func (Scheduler) CloneSetup(context.Context, string, string) error { return nil }
