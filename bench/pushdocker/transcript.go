package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// markers are the transcript lines whose arrival times split the push
// into phases (the first line containing each string).
var markers = map[string]string{
	"step1":     "Step 1/",
	"built":     "Successfully built",
	"deployweb": "-----> Deploying web",
	"checks":    "Attempting pre-flight checks",
	"listened":  "Healthcheck succeeded name='port listening check'",
	"execute":   "Executing ",
	"checked":   "All checks successful",
	"skipped":   "Zero downtime checks have been skipped",
	"deployed":  "Application deployed",
}

// scanLinesCR splits on \n and \r (git's progress lines end in \r).
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// pushRun is one `git push` as the client saw it.
type pushRun struct {
	t0         time.Time // the push started
	exit       time.Time // git exited
	running    time.Time // the new web.1 answered
	seen       map[string]time.Time
	transcript string
}

// readTranscript reads a push's stderr: each line with its arrival time
// (ms since t0), and when the first line holding each marker arrived.
func readTranscript(r io.Reader, t0 time.Time) (map[string]time.Time, string) {
	seen := map[string]time.Time{}
	var transcript strings.Builder
	sc := bufio.NewScanner(r)
	sc.Split(scanLinesCR)
	for sc.Scan() {
		now := time.Now()
		line := strings.TrimRight(sc.Text(), " ")
		fmt.Fprintf(&transcript, "%7.0f %s\n", ms(now.Sub(t0)), line)
		for k, m := range markers {
			if _, ok := seen[k]; !ok && strings.Contains(line, m) {
				seen[k] = now
			}
		}
	}
	return seen, transcript.String()
}

// split fills p with the phases between the markers' arrival times;
// deployStarted is when the server logged the deploy's start (zero when
// unknown), which splits the time before the first build step.
func (r pushRun) split(p phases, deployStarted func() time.Time) {
	t0, tRun, seen := r.t0, r.running, r.seen
	p["running"] = ms(tRun.Sub(t0))
	p["push_exit"] = ms(r.exit.Sub(t0))
	at := func(k string) (time.Time, bool) { t, ok := seen[k]; return t, ok }
	between := func(name, from, to string) {
		a, ok1 := at(from)
		b, ok2 := at(to)
		if ok1 && ok2 {
			p[name] = ms(b.Sub(a))
		}
	}
	if t, ok := at("step1"); ok {
		p["before_build"] = ms(t.Sub(t0))
		if ds := deployStarted(); !ds.IsZero() && ds.After(t0.Add(-time.Second)) {
			p["git_receive"] = ms(ds.Sub(t0))
			p["pipeline_to_step1"] = ms(t.Sub(ds))
		}
	}
	between("docker_build", "step1", "built")
	between("release", "built", "deployweb")
	between("container", "deployweb", "checks")
	if t, ok := at("checks"); ok {
		p["until_answer"] = ms(tRun.Sub(t))
	}
	end := "checked"
	if _, ok := seen["skipped"]; ok {
		end = "skipped"
	}
	between("checks", "checks", end)
	between("listen_check", "execute", "listened")
	if t, ok := at(end); ok {
		p["after_checks"] = ms(tRun.Sub(t))
	}
	if _, ok := seen["skipped"]; ok {
		p["checks_skipped"] = 1
	}
}
