// Package null is Dokku's null scheduler: it runs nothing, reports the app
// as running, and lets the rest of a deploy (config, routing) happen.
package null

import (
	"context"

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
