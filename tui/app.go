package tui

// newAppScreen is the app view: tabs of reports, config, processes, builds.
func newAppScreen(e *env, app string) Screen { return placeholder{app} }
