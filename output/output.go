// Package output writes Dokku's fixed-prefix lines (`-----> `, `=====> `,
// the 7-space verbose prefix, ` !     `), shared by commands and deploys so
// both look the same to the client. It also decides what a client is told
// of an error: Error, the one type for a message to the user and its exit
// code (ExitCode), and Reason for every other error.
package output

import (
	"fmt"
	"io"
	"strings"
)

// Dokku's prefixes (exact bytes).
const (
	Info1Prefix   = "-----> "
	Info2Prefix   = "=====> "
	VerbosePrefix = "       "
	WarnPrefix    = " !     "
)

// Lines writes msg with prefix in front of every line, in one write.
func Lines(w io.Writer, prefix, msg string) {
	var b strings.Builder
	for _, line := range strings.Split(msg, "\n") {
		b.WriteString(prefix)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(w, b.String())
}

// Info1 writes `-----> ` lines.
func Info1(w io.Writer, format string, args ...any) {
	Lines(w, Info1Prefix, fmt.Sprintf(format, args...))
}

// Info2 writes `=====> ` lines.
func Info2(w io.Writer, format string, args ...any) {
	Lines(w, Info2Prefix, fmt.Sprintf(format, args...))
}

// Verbose writes 7-space indented lines.
func Verbose(w io.Writer, format string, args ...any) {
	Lines(w, VerbosePrefix, fmt.Sprintf(format, args...))
}

// Warn writes ` !     ` lines.
func Warn(w io.Writer, format string, args ...any) {
	Lines(w, WarnPrefix, fmt.Sprintf(format, args...))
}
