package output

import (
	"context"
	"log/slog"
	"path"
	"regexp"
	"strings"
)

// An error reaches an SSH client in one of two ways. A user error (an
// *Error, see usererror.go) is a sentence written for the client and is
// shown as is. Any other error is unexpected: the client is told its cause
// without the server's paths and where the rest is, and the full error goes
// to the server log with the client's address. Reason is the one place that
// decides, for commands, pushes and deploys alike.

// DetailsInLog ends the client's text of an unexpected error.
const DetailsInLog = " (details in the server log)"

type remoteKey struct{}

// WithRemote returns ctx carrying the client's address, which Reason logs.
func WithRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

// Reason is what the client is told of err: a user error's text unchanged;
// for any other error its text with server paths cut (CutPaths) and
// DetailsInLog, after logging err in full on log with the client's address
// (from ctx) and attrs. It never returns an empty reason.
func Reason(ctx context.Context, log *slog.Logger, err error, attrs ...any) string {
	if err == nil {
		return ""
	}
	if IsUserError(err) {
		if msg := err.Error(); msg != "" {
			return msg
		}
	}
	if log != nil {
		if addr, ok := ctx.Value(remoteKey{}).(string); ok {
			attrs = append(attrs, "remote", addr)
		}
		log.Error("unexpected error", append(attrs, "err", err)...)
	}
	msg := CutPaths(strings.TrimSpace(err.Error()))
	if msg == "" {
		msg = "internal error"
	}
	return msg + DetailsInLog
}

// pathToken is an absolute path where one can start: at the beginning, or
// after a space, quote, bracket, '=', ':' or ','. It ends before a space,
// quote, closing bracket, ':', ',' or ';' (server paths hold none of them).
var pathToken = regexp.MustCompile("(^|[\\s'\"`(\\[{<=:,])(/[^\\s'\"`)\\]}>:,;]*)")

// escapedPath is a path escaped into a URL's host, as Go's HTTP client
// writes a unix socket's (http://%2Fvar%2Frun%2Fdocker.sock/...).
var escapedPath = regexp.MustCompile(`(?i)(%2F[^%/\s'"` + "`" + `:,;]*)+`)

// CutPaths replaces every absolute path in s by ".../" and its last
// element, which still names the file without showing the server's layout.
// "scheme://host" stays; "unix:///run/x.sock" is cut like a path.
func CutPaths(s string) string {
	s = escapedPath.ReplaceAllString(s, "...")
	return pathToken.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexByte(m, '/')
		lead, p := m[:i], m[i:]
		if strings.HasPrefix(p, "//") {
			if !strings.HasPrefix(p, "///") {
				return m // a URL's host
			}
			p = p[2:]
		}
		trail := ""
		for strings.HasSuffix(p, ".") {
			p, trail = p[:len(p)-1], trail+"."
		}
		p = strings.TrimRight(p, "/")
		if p == "" {
			return m // "/" alone is not a server path
		}
		return lead + ".../" + path.Base(p) + trail
	})
}
