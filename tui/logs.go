package tui

// newLogsScreen follows app's logs, of one process type or dyno when
// process is not "".
func newLogsScreen(e *env, app, process string) Screen { return placeholder{"logs"} }
