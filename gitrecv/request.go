// Package gitrecv serves git over SSH for the apps: receive-pack in process
// (ref advertisement, commands, push options, the pack indexed by
// `git index-pack` into a quarantine, connectivity check, deploy hook with
// live side-band output, compare-and-swap ref updates) and upload-pack by
// running `git upload-pack`. In Dokku host mode (RepoHooks, ServeHost) the
// push runs the repository's own hooks as C git's receive-pack does, and
// Dokku's forced command does what comes before and after git.
package gitrecv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// Command is one ref update of a push.
type Command struct {
	Old, New plumbing.Hash
	Ref      string
}

// IsDelete reports whether the command deletes its ref.
func (c Command) IsDelete() bool { return c.New.IsZero() }

// Request is what a client sends before the pack.
type Request struct {
	Commands     []Command
	Capabilities map[string]string // name -> value ("" for flags)
	PushOptions  []string
	// Shallow lists the client's shallow boundary commits: it pushes from
	// a shallow clone, which works when the server has the history below.
	Shallow []string
}

// Has reports whether the client asked for capability name.
func (r *Request) Has(name string) bool {
	_, ok := r.Capabilities[name]
	return ok
}

// NeedsPack reports whether a pack follows the request (any non-delete).
func (r *Request) NeedsPack() bool {
	for _, c := range r.Commands {
		if !c.IsDelete() {
			return true
		}
	}
	return false
}

// Limits on what a client may send before the pack.
const (
	maxCommands    = 10000
	maxPushOptions = 100
	maxOptionLen   = 4096
)

// ErrEmptyRequest is a client that flushed without sending any command
// (git does this when there is nothing to push).
var ErrEmptyRequest = errors.New("no commands")

// ReadRequest reads the commands (the first carrying the capabilities after
// a NUL), and, when push-options was negotiated, the push options. It reads
// exactly up to the pack, which stays in r.
func ReadRequest(r io.Reader) (*Request, error) {
	s := pktline.NewScanner(r)
	req := &Request{Capabilities: map[string]string{}}
	for s.Scan() {
		line := s.Bytes()
		if len(line) == 0 { // flush-pkt
			break
		}
		if len(req.Commands) >= maxCommands {
			return nil, fmt.Errorf("more than %d ref updates in one push", maxCommands)
		}
		if len(req.Commands) == 0 {
			if i := bytes.IndexByte(line, 0); i >= 0 {
				parseCapabilities(req.Capabilities, string(line[i+1:]))
				line = line[:i]
			}
		}
		if oid, ok := bytes.CutPrefix(line, []byte("shallow ")); ok && len(req.Commands) == 0 {
			h, valid := parseHash(string(bytes.TrimSuffix(oid, []byte("\n"))))
			if !valid {
				return nil, fmt.Errorf("malformed shallow line %q", line)
			}
			req.Shallow = append(req.Shallow, h.String())
			continue
		}
		cmd, err := parseCommand(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil {
			return nil, err
		}
		req.Commands = append(req.Commands, cmd)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read ref updates: %w", err)
	}
	if len(req.Commands) == 0 {
		return nil, ErrEmptyRequest
	}
	if req.Has("push-options") {
		for s.Scan() {
			line := s.Bytes()
			if len(line) == 0 {
				break
			}
			if len(req.PushOptions) >= maxPushOptions || len(line) > maxOptionLen {
				return nil, errors.New("too many or too long push options")
			}
			req.PushOptions = append(req.PushOptions, string(bytes.TrimSuffix(line, []byte("\n"))))
		}
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("read push options: %w", err)
		}
	}
	return req, nil
}

func parseCapabilities(into map[string]string, s string) {
	for _, c := range strings.Fields(s) {
		name, value, _ := strings.Cut(c, "=")
		into[name] = value
	}
}

func parseHash(s string) (plumbing.Hash, bool) {
	if len(s) != 40 {
		return plumbing.ZeroHash, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.NewHash(s), true
}

// parseCommand parses "<old> <new> <ref>".
func parseCommand(line string) (Command, error) {
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return Command{}, fmt.Errorf("malformed ref update %q", line)
	}
	oldH, ok1 := parseHash(f[0])
	newH, ok2 := parseHash(f[1])
	if !ok1 || !ok2 {
		return Command{}, fmt.Errorf("malformed object id in ref update %q", line)
	}
	if !validRefName(f[2]) {
		return Command{}, fmt.Errorf("invalid ref name %q", f[2])
	}
	return Command{Old: oldH, New: newH, Ref: f[2]}, nil
}

// validRefName is git check-ref-format's rule set for a full ref name under
// refs/ (what receive-pack accepts).
func validRefName(ref string) bool {
	if !strings.HasPrefix(ref, "refs/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") ||
		strings.HasSuffix(ref, ".lock") || strings.Contains(ref, "..") || strings.Contains(ref, "@{") ||
		strings.Contains(ref, "//") || ref == "@" {
		return false
	}
	for _, part := range strings.Split(ref, "/") {
		if part == "" || part[0] == '.' || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return false
		}
	}
	return true
}
