package tui

// actionScreen asks to confirm one action on app (restart, stop, start,
// rebuild, scale, destroy), runs its command and shows the output; nil
// when the session's key may not run it.
func actionScreen(e *env, app, name string) Screen { return placeholder{name} }
