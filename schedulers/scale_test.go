package schedulers

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"dokku-sshd/appjson"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// scale is a short way to write a scale in a table.
func scale(pairs ...any) []ProcessCount {
	var out []ProcessCount
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, ProcessCount{Proc: pairs[i].(string), Count: pairs[i+1].(int)})
	}
	return out
}

// wantUserError checks that err is a message for the client, word for
// word.
func wantUserError(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || err.Error() != msg || !output.IsUserError(err) {
		t.Fatalf("err = %v, want the user message %q", err, msg)
	}
}

func TestParseProcessCount(t *testing.T) {
	tests := []struct {
		in      string
		want    ProcessCount
		wantErr string
	}{
		{in: "web=2", want: ProcessCount{"web", 2}},
		{in: "worker=0", want: ProcessCount{"worker", 0}},
		{in: "web", wantErr: "Missing count for process type web"},
		{in: "web=x", wantErr: "Invalid count for process type web"},
		{in: "web=-1", wantErr: "Invalid count for process type web"},
		{in: "web=", wantErr: "Invalid count for process type web"},
		{in: "web=1=2", wantErr: "Invalid count for process type web"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProcessCount(tt.in)
			if tt.wantErr != "" {
				wantUserError(t, err, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseScale(t *testing.T) {
	tests := []struct {
		name, in string
		want     []ProcessCount
		wantErr  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "lines in their order", in: "worker=2\nweb=1\n", want: scale("worker", 2, "web", 1)},
		{name: "blank lines and spaces", in: "\n  web=1  \n\nclock=0", want: scale("web", 1, "clock", 0)},
		{name: "a bad line", in: "web=1\nworker\n", wantErr: "Missing count for process type worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScale(tt.in)
			if tt.wantErr != "" {
				wantUserError(t, err, tt.wantErr)
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
			// What FormatScale writes reads back the same.
			if back, err := ParseScale(FormatScale(got)); err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip = %+v, %v", back, err)
			}
		})
	}
	if got := FormatScale(scale("web", 1, "worker", 0)); got != "web=1\nworker=0\n" {
		t.Errorf("FormatScale = %q", got)
	}
}

func TestCheckScalable(t *testing.T) {
	procfile := map[string]string{"web": "bin/web", "worker": "bin/worker"}
	tests := []struct {
		name     string
		pc       ProcessCount
		procfile map[string]string
		ok       bool
	}{
		{name: "a Procfile type", pc: ProcessCount{"worker", 2}, procfile: procfile, ok: true},
		{name: "a type the Procfile lacks", pc: ProcessCount{"clock", 1}, procfile: procfile},
		{name: "down to 0 is always allowed", pc: ProcessCount{"clock", 0}, procfile: procfile, ok: true},
		{name: "web without a Procfile", pc: ProcessCount{"web", 3}, ok: true},
		{name: "another type without a Procfile", pc: ProcessCount{"worker", 1}},
		{name: "an empty command", pc: ProcessCount{"web", 1}, procfile: map[string]string{"web": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckScalable(tt.pc, tt.procfile)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantUserError(t, err, tt.pc.Proc+" is not a valid process name to scale up")
		})
	}
}

func TestApplyScale(t *testing.T) {
	tests := []struct {
		name             string
		current, changes []ProcessCount
		want             []ProcessCount
		changed          []string
	}{
		{name: "new type", current: scale("web", 1), changes: scale("worker", 2),
			want: scale("web", 1, "worker", 2), changed: []string{"worker"}},
		{name: "same count is no change", current: scale("web", 1, "worker", 2), changes: scale("web", 1, "worker", 3),
			want: scale("web", 1, "worker", 3), changed: []string{"worker"}},
		{name: "sorted by type", current: scale("worker", 1, "web", 1), changes: scale("clock", 0, "api", 1),
			want: scale("api", 1, "clock", 0, "web", 1, "worker", 1), changed: []string{"api", "clock"}},
		{name: "a type given twice", current: scale("web", 1), changes: scale("web", 2, "web", 3),
			want: scale("web", 3), changed: []string{"web", "web"}},
		{name: "from nothing", changes: scale("web", 0), want: scale("web", 0), changed: []string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := ApplyScale(tt.current, tt.changes)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(changed, tt.changed) {
				t.Fatalf("= %+v %q; want %+v %q", got, changed, tt.want, tt.changed)
			}
		})
	}
}

// TestScaleProperty: ReadScale reports the property as written;
// CurrentScale and SetScale start from web=1 only for an app whose scale
// was never set.
func TestScaleProperty(t *testing.T) {
	tests := []struct {
		name      string
		property  *string // nil: never set
		read      []ProcessCount
		current   []ProcessCount
		afterSet  string // the property after SetScale worker=1
		changed   []string
		wantError string
	}{
		{name: "never scaled", read: nil, current: scale("web", 1),
			afterSet: "web=1\nworker=1\n", changed: []string{"worker"}},
		{name: "scaled", property: ptr("web=2\nworker=1\n"), read: scale("web", 2, "worker", 1), current: scale("web", 2, "worker", 1),
			afterSet: "web=2\nworker=1\n", changed: nil},
		{name: "set to nothing", property: ptr(""), read: nil, current: nil,
			afterSet: "worker=1\n", changed: []string{"worker"}},
		{name: "broken", property: ptr("web=lots\n"), wantError: "Invalid count for process type web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			if tt.property != nil {
				if err := st.SetProperty("ps", "app", "scale", *tt.property); err != nil {
					t.Fatal(err)
				}
			}
			read, set, err := ReadScale(st, "app")
			current, cerr := CurrentScale(st, "app")
			changed, serr := SetScale(context.Background(), st, "app", scale("worker", 1))
			if tt.wantError != "" {
				for _, err := range []error{err, cerr, serr} {
					wantUserError(t, err, tt.wantError)
				}
				return
			}
			if err != nil || cerr != nil || serr != nil {
				t.Fatal(err, cerr, serr)
			}
			if set != (tt.property != nil) || !reflect.DeepEqual(read, tt.read) {
				t.Errorf("ReadScale = %+v %v; want %+v", read, set, tt.read)
			}
			if !reflect.DeepEqual(current, tt.current) {
				t.Errorf("CurrentScale = %+v; want %+v", current, tt.current)
			}
			if got, _ := st.Property("ps", "app", "scale"); got+"\n" != tt.afterSet || !reflect.DeepEqual(changed, tt.changed) {
				t.Errorf("after SetScale: %q changed %q; want %q %q", got, changed, tt.afterSet, tt.changed)
			}
		})
	}
}

// TestSetScaleWaitsForTheRelease: a scale change waits for the release
// under way, and gives up when its context ends.
func TestSetScaleWaitsForTheRelease(t *testing.T) {
	st := newStore(t)
	unlock, err := LockRelease(context.Background(), st, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SetScale(ctx, st, "app", scale("web", 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("SetScale during a release: %v", err)
	}
	if _, set, _ := st.LookupProperty("ps", "app", "scale"); set {
		t.Fatal("SetScale wrote without the release lock")
	}
}

func TestSyncScale(t *testing.T) {
	two, zero := 2, 0
	formation := func(f map[string]*int) *appjson.File {
		aj := &appjson.File{Formation: map[string]appjson.Formation{}}
		for proc, q := range f {
			aj.Formation[proc] = appjson.Formation{Quantity: q}
		}
		return aj
	}
	tests := []struct {
		name          string
		scale         *string // nil: never set
		appJSON       *appjson.File
		procfile      map[string]string
		want          []ProcessCount
		scaleAfter    string
		scaleOld      string
		canScale      string
		wantError     string
		wantUntouched bool
	}{
		{name: "never scaled: web=1, Procfile types at 0",
			procfile: map[string]string{"web": "a", "worker": "b"},
			want:     scale("web", 1, "worker", 0), scaleAfter: "web=1\nworker=0", canScale: "true"},
		{name: "no Procfile: the scale as it is",
			scale: ptr("web=2\n"),
			want:  scale("web", 2), scaleAfter: "web=2", canScale: "true"},
		{name: "app.json formation replaces the scale",
			scale: ptr("web=3\nworker=1\n"), appJSON: formation(map[string]*int{"worker": &two}),
			procfile: map[string]string{"web": "a", "worker": "b"},
			want:     scale("web", 0, "worker", 2), scaleAfter: "worker=2\nweb=0", canScale: "false"},
		{name: "a formation without quantities leaves the scale",
			scale: ptr("web=3\n"), appJSON: formation(map[string]*int{"web": nil}),
			procfile: map[string]string{"web": "a"},
			want:     scale("web", 3), scaleAfter: "web=3", canScale: "true"},
		{name: "an unscaled type that left the Procfile moves to scale.old",
			scale: ptr("web=1\nclock=0\n"), procfile: map[string]string{"web": "a"},
			want: scale("clock", 0, "web", 1), scaleAfter: "web=1", scaleOld: "clock=0", canScale: "true"},
		{name: "a scaled type that left the Procfile stays",
			scale: ptr("web=1\nclock=1\n"), procfile: map[string]string{"web": "a"},
			want: scale("clock", 1, "web", 1), scaleAfter: "web=1\nclock=1", canScale: "true"},
		{name: "formation of a type the Procfile lacks",
			appJSON: formation(map[string]*int{"nope": &two}), procfile: map[string]string{"web": "a"},
			wantError: "nope is not a valid process name to scale up"},
		{name: "formation of a type the Procfile lacks, at 0",
			appJSON: formation(map[string]*int{"nope": &zero}), procfile: map[string]string{"web": "a"},
			want: scale("nope", 0, "web", 0), scaleAfter: "web=0", scaleOld: "nope=0", canScale: "false"},
		{name: "a broken scale", scale: ptr("web=x\n"), wantError: "Invalid count for process type web", wantUntouched: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			if tt.scale != nil {
				if err := st.SetProperty("ps", "app", "scale", *tt.scale); err != nil {
					t.Fatal(err)
				}
			}
			got, err := SyncScale(st, "app", tt.appJSON, tt.procfile)
			prop := func(key string) string { v, _ := st.Property("ps", "app", key); return v }
			if tt.wantError != "" {
				wantUserError(t, err, tt.wantError)
				if _, set, _ := st.LookupProperty("ps", "app", "can-scale"); tt.wantUntouched && set {
					t.Error("a broken scale changed can-scale")
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
			if prop("scale") != tt.scaleAfter || prop("scale.old") != tt.scaleOld || prop("can-scale") != tt.canScale {
				t.Errorf("scale %q scale.old %q can-scale %q; want %q %q %q",
					prop("scale"), prop("scale.old"), prop("can-scale"), tt.scaleAfter, tt.scaleOld, tt.canScale)
			}
		})
	}
}

func ptr(s string) *string { return &s }
