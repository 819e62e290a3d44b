package deploy

import (
	"context"
	"time"
)

// Observer is told of each build and each scheduler deploy, for metrics
// (metrics.Metrics implements it; Pipeline.Observer nil: nobody is told).
// builder and scheduler are names of registered ones; result is one of
// the Result* values.
type Observer interface {
	BuildDone(builder, result string, d time.Duration)
	DeployDone(scheduler, result string, d time.Duration)
}

// Results of a build or a deploy.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
	ResultCanceled  = "canceled" // the client went away, or builds:cancel
)

func result(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return ResultSucceeded
	case ctx.Err() != nil:
		return ResultCanceled
	}
	return ResultFailed
}

// observeBuild reports a builder's run that began at start.
func (p *Pipeline) observeBuild(ctx context.Context, builder string, start time.Time, err error) {
	if p.Observer != nil {
		p.Observer.BuildDone(builder, result(ctx, err), time.Since(start))
	}
}

// observeDeploy reports a scheduler's deploy that began at start.
func (p *Pipeline) observeDeploy(ctx context.Context, scheduler string, start time.Time, err error) {
	if p.Observer != nil {
		p.Observer.DeployDone(scheduler, result(ctx, err), time.Since(start))
	}
}
