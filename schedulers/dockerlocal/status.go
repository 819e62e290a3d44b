package dockerlocal

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// ProcessStatuses reports each CONTAINER.<proc>.<n> file's container state
// as ps:report's --status-<proc>.<n> shows it.
func (s *Scheduler) ProcessStatuses(ctx context.Context, app string) (map[string]string, error) {
	slots, err := s.slots(app)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(slots))
	for _, sl := range slots {
		state := "missing"
		if ins, err := s.Client.ContainerInspect(ctx, sl.ID, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			state = string(ins.Container.State.Status)
		}
		id := sl.ID
		if len(id) > 11 {
			id = id[:11]
		}
		out[sl.Dyno()] = fmt.Sprintf("%s (CID: %s)", state, id)
	}
	return out, nil
}
