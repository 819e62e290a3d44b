package k3s

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"dokku-sshd/schedulers"
)

// TestLogsCluster reads the logs of an app's pods through pods/log (kwok
// serves one log file as every container's): the selection by process
// and PROC.N, Dokku's prefixes and colours, -q, -n, and the errors.
func TestLogsCluster(t *testing.T) {
	e := newProcsEnv(t)
	ctx := testCtx(t)
	err := e.s.Logs(ctx, e.app, schedulers.LogOptions{Num: -1}, io.Discard)
	if errText(err) != "No pods found matching specified labels" {
		t.Fatalf("logs of an app without pods: %v", err)
	}
	web := e.deployProc(t, "web", 2)
	worker := e.deployProc(t, "worker", 1)
	all := append(append([]string{}, web...), worker...)
	marker := "logs-" + randHex(4)
	if err := e.cl.LogLines(marker+" one", marker+" two"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		o     schedulers.LogOptions
		pods  []string // the pods shown, in colour order
		lines []string // each pod's lines of this test
	}{
		{"all", schedulers.LogOptions{Num: -1}, all, []string{"one", "two"}},
		{"process", schedulers.LogOptions{Num: -1, ProcessType: "web"}, web, []string{"one", "two"}},
		{"dyno", schedulers.LogOptions{Num: -1, ProcessType: "web.2"}, web[1:], []string{"one", "two"}},
		{"quiet", schedulers.LogOptions{Num: -1, ProcessType: "worker", Quiet: true}, worker, []string{"one", "two"}},
		{"last line", schedulers.LogOptions{Num: 1, ProcessType: "web"}, web, []string{"two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := e.s.Logs(ctx, e.app, tt.o, &out); err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, pod := range tt.pods {
				for _, l := range tt.lines {
					want = append(want, logPrefix(tt.o.Quiet, i, pod)+marker+" "+l)
				}
			}
			var got []string
			for _, l := range lines(out.String()) {
				if strings.Contains(l, marker) {
					got = append(got, l)
				}
			}
			if tt.o.Num >= 0 && len(lines(out.String())) != tt.o.Num*len(tt.pods) {
				t.Errorf("%d lines for -n %d and %d pods:\n%s", len(lines(out.String())), tt.o.Num, len(tt.pods), out.String())
			}
			// The pods' streams run at once: only each pod's own order is
			// fixed.
			if !sameLines(got, want) {
				t.Errorf("got lines\n%q\nwant\n%q", got, want)
			}
		})
	}

	for _, tc := range []struct{ proc, want string }{
		{"web.3", "Process index 3 out of range for app shop"},
		{"nope", "No pods found matching specified labels"},
	} {
		err := e.s.Logs(ctx, e.app, schedulers.LogOptions{Num: -1, ProcessType: tc.proc}, io.Discard)
		if errText(err) != tc.want {
			t.Errorf("logs -p %s: %v, want %q", tc.proc, err, tc.want)
		}
		if tc.proc == "nope" && !errors.Is(err, schedulers.ErrNoProcess) {
			t.Errorf("logs -p nope: %v is not ErrNoProcess", err)
		}
	}
}

// logPrefix is Dokku's prefix of pod, the i-th shown.
func logPrefix(quiet bool, i int, pod string) string {
	if quiet {
		return ""
	}
	return "\x1b[" + strconv.Itoa(logColors[i%len(logColors)]) + "mapp[" + pod + "]: \x1b[0m"
}

// sameLines reports whether got holds want's lines, with each pod's lines
// (same prefix) in want's order.
func sameLines(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	byPrefix := func(ls []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range ls {
			p, _, _ := strings.Cut(l, "\x1b[0m")
			m[p] = append(m[p], l)
		}
		return m
	}
	g, w := byPrefix(got), byPrefix(want)
	if len(g) != len(w) {
		return false
	}
	for p, ls := range w {
		if strings.Join(g[p], "\n") != strings.Join(ls, "\n") {
			return false
		}
	}
	return true
}

// TestLogsFollowCluster follows two pods' logs (-t) while many lines are
// appended: every line arrives whole, with its pod's prefix, and the
// stream ends when the context does (the client went away).
func TestLogsFollowCluster(t *testing.T) {
	e := newProcsEnv(t)
	web := e.deployProc(t, "web", 2)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- e.s.Logs(ctx, e.app, schedulers.LogOptions{Num: -1, Follow: true, ProcessType: "web"}, out)
	}()
	marker := "follow-" + randHex(4)
	var appended []string
	for i := range 200 {
		appended = append(appended, marker+" "+strconv.Itoa(i)+" "+strings.Repeat("x", i*7))
	}
	if err := e.cl.LogLines(appended...); err != nil {
		t.Fatal(err)
	}
	last := marker + " 199 "
	out.waitFor(ctx, t, "the last line from both pods", func(s string) bool { return strings.Count(s, last) == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("logs -t after the client went away: %v", err)
	}
	whole := regexp.MustCompile(`^\x1b\[3[1-6]mapp\[(` + regexp.QuoteMeta(web[0]) + `|` + regexp.QuoteMeta(web[1]) + `)\]: \x1b\[0m[^\x1b]*$`)
	n := 0
	for _, l := range lines(out.String()) {
		if !whole.MatchString(l) {
			t.Fatalf("line not whole or not prefixed: %q", l)
		}
		if strings.Contains(l, marker) {
			n++
		}
	}
	if n != 2*len(appended) {
		t.Errorf("%d lines of this test, want %d", n, 2*len(appended))
	}
}
