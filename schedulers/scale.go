package schedulers

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"dokku-sshd/output"
)

// ProcessCount is one line of ps' scale property (LIB/config/ps/<app>/scale,
// `type=count` lines): how many containers of a process type run.
type ProcessCount struct {
	Proc  string
	Count int
}

// ParseScale reads scale lines with Dokku's messages for bad ones.
func ParseScale(lines string) ([]ProcessCount, error) {
	var out []ProcessCount
	sc := bufio.NewScanner(strings.NewReader(lines))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		pc, err := ParseProcessCount(line)
		if err != nil {
			return nil, err
		}
		out = append(out, pc)
	}
	return out, sc.Err()
}

// ParseProcessCount reads one `type=count` (a scale line or a ps:scale
// argument).
func ParseProcessCount(s string) (ProcessCount, error) {
	proc, n, ok := strings.Cut(s, "=")
	if !ok {
		return ProcessCount{}, output.Userf("Missing count for process type %s", s)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return ProcessCount{}, output.Userf("Invalid count for process type %s", proc)
	}
	return ProcessCount{Proc: proc, Count: count}, nil
}

// FormatScale writes scale lines in the given order.
func FormatScale(pcs []ProcessCount) string {
	var b strings.Builder
	for _, pc := range pcs {
		fmt.Fprintf(&b, "%s=%d\n", pc.Proc, pc.Count)
	}
	return b.String()
}
