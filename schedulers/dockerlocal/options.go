package dockerlocal

import (
	"dokku-sshd/dockeropts"
	"dokku-sshd/output"
)

// readOptions reads the app's deploy-phase docker-options and checks
// them before any container is touched: an option that cannot be passed
// to docker fails the deploy with a message naming it.
func (d *deployment) readOptions() error {
	words, err := dockeropts.PhaseWords(d.s.Store, d.app, dockeropts.Deploy)
	if err != nil {
		return err
	}
	c, err := dockeropts.ParseContainer(dockeropts.Deploy, words)
	if err != nil {
		return output.Userf("Invalid deploy-phase docker option of %s: %v", d.app, err)
	}
	d.options, d.publishes = words, c.PublishesPorts
	return nil
}

// containerOptions parses the deploy-phase options again for one
// container: its own Config and HostConfig to fill in.
func (d *deployment) containerOptions() (*dockeropts.Container, error) {
	c, err := dockeropts.ParseContainer(dockeropts.Deploy, d.options)
	if err != nil {
		return nil, output.Userf("Invalid deploy-phase docker option of %s: %v", d.app, err)
	}
	return c, nil
}

// runOptions reads and parses the app's run-phase docker-options.
func (s *Scheduler) runOptions(app string) (*dockeropts.Container, error) {
	words, err := dockeropts.PhaseWords(s.Store, app, dockeropts.Run)
	if err != nil {
		return nil, err
	}
	c, err := dockeropts.ParseContainer(dockeropts.Run, words)
	if err != nil {
		return nil, output.Userf("Invalid run-phase docker option of %s: %v", app, err)
	}
	return c, nil
}
