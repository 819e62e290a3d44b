package dockerlocal_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/schedulers/dockerlocal"
)

// TestEngineReport reads the real engine's version and info as `dokku
// report` prints them, in the docker CLI's layout.
func TestEngineReport(t *testing.T) {
	cli := dockertest.Require(t)
	s := dockerlocal.New(cli, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var v bytes.Buffer
	if err := s.WriteEngineVersion(ctx, &v); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Server:.*\n Engine:\n  Version:          \S+\n  API version:      [\d.]+ \(minimum version [\d.]+\)\n`)
	if !want.MatchString(v.String()) {
		t.Errorf("engine version:\n%s", v.String())
	}
	if !regexp.MustCompile(`(?m)^  OS/Arch:          linux/\w+$`).MatchString(v.String()) {
		t.Errorf("engine version lacks OS/Arch:\n%s", v.String())
	}

	var i bytes.Buffer
	if err := s.WriteEngineInfo(ctx, &i); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`^Server:\n Containers: \d+\n  Running: \d+\n  Paused: \d+\n  Stopped: \d+\n Images: \d+\n Server Version: \S+`,
		`(?m)^ OSType: linux$`, `(?m)^ CPUs: [1-9]\d*$`, `(?m)^ Total Memory: [\d.]+[KMGT]iB$`} {
		if !regexp.MustCompile(re).MatchString(i.String()) {
			t.Errorf("engine info does not match %s:\n%s", re, i.String())
		}
	}
	if strings.Contains(i.String(), "Docker Root Dir") {
		t.Errorf("engine info shows the daemon's paths:\n%s", i.String())
	}
}
