package commands

import (
	"context"
	"io"
	"strings"
	"testing"

	"dokku-sshd/keys"
	"dokku-sshd/metrics"
)

// The command label is a name the dispatcher knows, or "unknown": never a
// word of the client's (app names, typos, arguments).
func TestCommandLabel(t *testing.T) {
	d := New(Config{})
	tests := []struct {
		argv []string
		want string
	}{
		{nil, "help"},
		{[]string{"help", "--all"}, "help"},
		{[]string{"--version"}, "version"},
		{[]string{"-v"}, "version"},
		{[]string{"apps:list"}, "apps:list"},
		{[]string{"--quiet", "apps:list"}, "apps:list"},
		{[]string{"--app", "my-secret-app", "config:show"}, "config:show"},
		{[]string{"--app=x", "--trace", "ps:report", "x"}, "ps:report"},
		{[]string{"apps"}, "apps"},
		{[]string{"apps:help"}, "apps"},
		{[]string{"docker-local:report", "app"}, "scheduler-docker-local:report"},
		{[]string{"docker-local"}, "scheduler-docker-local"},
		{[]string{"run", "app", "ls"}, "run"},
		{[]string{"my-secret-app"}, "unknown"},
		{[]string{"apps:no-such-sub"}, "unknown"},
		{[]string{"no-such-plugin:help"}, "unknown"},
		{[]string{"--app"}, "help"},
	}
	for _, tt := range tests {
		if got := d.commandLabel(tt.argv); got != tt.want {
			t.Errorf("commandLabel(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

func TestCommandLabelAllocs(t *testing.T) {
	d := New(Config{})
	argv := []string{"--app", "x", "apps:report"}
	if n := testing.AllocsPerRun(100, func() { _ = d.commandLabel(argv) }); n != 0 {
		t.Errorf("commandLabel allocates %v times, want 0", n)
	}
}

// The cost metrics add to a command: RunSSH of a trivial command without
// and with the real metrics observer.
func BenchmarkRunSSH(b *testing.B) {
	for _, tt := range []struct {
		name string
		obs  Observer
	}{{"off", nil}, {"metrics", metrics.New()}} {
		b.Run(tt.name, func(b *testing.B) {
			d := New(Config{Observer: tt.obs})
			sio := IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d.RunSSH(ctx, sio, keys.Identity{Name: "bench"}, "version")
			}
		})
	}
}
