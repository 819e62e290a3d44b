package commands

import (
	"fmt"
	"io"

	"dokku-sshd/output"
)

// Dokku's fixed output prefixes (docs/dokku-behaviour.md#output-prefixes).
const (
	prefixInfo1   = output.Info1Prefix
	prefixInfo2   = output.Info2Prefix
	prefixVerbose = output.VerbosePrefix
	prefixWarn    = output.WarnPrefix
)

// writeLines writes msg with prefix on every line.
func writeLines(w io.Writer, prefix, msg string) { output.Lines(w, prefix, msg) }

// Info1 prints `-----> msg` on stdout.
func (e *Call) Info1(format string, args ...any) {
	writeLines(e.Stdout, prefixInfo1, fmt.Sprintf(format, args...))
}

// Info1Quiet is Info1 hidden by --quiet.
func (e *Call) Info1Quiet(format string, args ...any) {
	if !e.Flags.Quiet {
		e.Info1(format, args...)
	}
}

// Info2 prints `=====> msg` on stdout.
func (e *Call) Info2(format string, args ...any) {
	writeLines(e.Stdout, prefixInfo2, fmt.Sprintf(format, args...))
}

// Info2Quiet is Info2 hidden by --quiet.
func (e *Call) Info2Quiet(format string, args ...any) {
	if !e.Flags.Quiet {
		e.Info2(format, args...)
	}
}

// Verbose prints msg behind the 7-space prefix on stdout.
func (e *Call) Verbose(format string, args ...any) {
	writeLines(e.Stdout, prefixVerbose, fmt.Sprintf(format, args...))
}

// Warn prints ` !     msg` on stderr.
func (e *Call) Warn(format string, args ...any) {
	writeLines(e.Stderr, prefixWarn, fmt.Sprintf(format, args...))
}

// Println prints a plain line on stdout.
func (e *Call) Println(s string) { io.WriteString(e.Stdout, s+"\n") }

// Debug prints ` ?     msg` on stderr with --trace.
func (e *Call) Debug(format string, args ...any) {
	if e.Flags.Trace {
		writeLines(e.Stderr, " ?     ", fmt.Sprintf(format, args...))
	}
}

// Print writes s on stdout as is.
func (e *Call) Print(s string) { io.WriteString(e.Stdout, s) }
