package k3s

// customMeta is the user's labels and annotations of app's objects of a
// resource type ("deployment", "service", "pod", "secret",
// "serviceaccount", "ingress", "job", "namespace"...) and process type,
// merged over the server's own on every object.
func (s *Scheduler) customMeta(app, resource, proc string) (labels, annotations map[string]string, err error) {
	return nil, nil, nil
}
