package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

var procName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidProcessName reports whether name can be a Procfile process type.
func ValidProcessName(name string) bool { return procName.MatchString(name) }

// ParseProcfile reads `type: command` lines (comments and blank lines
// skipped), as Dokku's procfile-util does.
func ParseProcfile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		if !ok || !procName.MatchString(name) || cmd == "" {
			return nil, fmt.Errorf("invalid Procfile line %d: %q", n, line)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("invalid Procfile: process type %q defined twice", name)
		}
		out[name] = cmd
	}
	return out, sc.Err()
}
