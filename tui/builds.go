package tui

// newBuildScreen shows one build's output, following it while it runs.
func newBuildScreen(e *env, app, id string) Screen { return placeholder{"build " + id} }
