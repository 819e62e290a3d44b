package commands

// builtinGroups returns the command groups this server implements, one per
// Dokku plugin; help lists them sorted by name, whatever the order here.
func builtinGroups() []*Group {
	return []*Group{
		appsGroup(),
		builderGroup(),
		buildsGroup(),
		certsGroup(),
		checksGroup(),
		configGroup(),
		dockerOptionsGroup(),
		domainsGroup(),
		portsGroup(),
		enterGroup(),
		gitGroup(),
		logsGroup(),
		nginxGroup(),
		proxyGroup(),
		psGroup(),
		registryGroup(),
		reportGroup(),
		runGroup(),
		schedulerGroup(),
		schedulerDockerLocalGroup(),
		schedulerK3sGroup(),
		sshKeysGroup(),
		urlGroup(),
		urlsGroup(),
	}
}
