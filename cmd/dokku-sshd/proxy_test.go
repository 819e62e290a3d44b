package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
)

// TestNewRouterOff: routing is off, with one log line saying why, when no
// nginx is found, with --no-proxy, and in Dokku host mode (silently: Dokku
// routes there).
func TestNewRouterOff(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    config
		log  string
	}{
		{"no nginx", config{NginxBin: "/nonexistent/nginx"}, "http routing is off: no nginx found"},
		{"--no-proxy", config{NoProxy: true}, "http routing is off: --no-proxy"},
		{"dokku host", config{DokkuHost: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			dl := dockerlocal.New(nil, st, nil)
			if r := newRouter(&tc.c, st, dl, slog.New(slog.NewTextHandler(&buf, nil))); r != nil || dl.Router != nil {
				t.Fatalf("router %v, scheduler's %v: want none", r, dl.Router)
			}
			if got := buf.String(); (tc.log == "") != (got == "") || !strings.Contains(got, tc.log) || strings.Count(got, "\n") > 1 {
				t.Errorf("log %q, want one line with %q", got, tc.log)
			}
		})
	}
}
