package tui

// newKeysScreen lists, adds and removes SSH keys (admin keys only).
func newKeysScreen(e *env) Screen { return placeholder{"keys"} }
