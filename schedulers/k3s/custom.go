package k3s

// customMeta returns the labels and annotations the user set for resource
// (Dokku's resource type: "deployment", "ingress", ...) and process type
// proc. Placeholder until scheduler-k3s:labels:set and annotations:set
// land: none.
func (s *Scheduler) customMeta(app, resource, proc string) (labels, annotations map[string]string, err error) {
	return nil, nil, nil
}
