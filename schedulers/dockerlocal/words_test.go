package dockerlocal

import (
	"reflect"
	"strconv"
	"testing"

	"dokku-sshd/store"
)

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`httpd -f -p 5000`:           {"httpd", "-f", "-p", "5000"},
		`sh -c 'echo "a b"; exit 1'`: {"sh", "-c", `echo "a b"; exit 1`},
		`echo "x \"y\" \$z" a\ b`:    {"echo", `x "y" $z`, "a b"},
		`  lead   trail  `:           {"lead", "trail"},
		`empty "" ''`:                {"empty", "", ""},
		`concat"ed"'words'`:          {"concatedwords"},
	} {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) accepted", bad)
		}
	}
}

func TestExpandCommand(t *testing.T) {
	env := map[string]string{"GREETING": "hi", "PORT": ""}
	for in, want := range map[string]string{
		"run -p $PORT":             "run -p 5000",
		"echo ${GREETING} $PS":     "echo hi web",
		"echo $UNSET.":             "echo .",
		"echo $(date) $GREETING":   "echo $(date) hi",
		"bin/start --port=${PORT}": "bin/start --port=5000",
	} {
		if got := expandCommand(in, env, "web", 5000); got != want {
			t.Errorf("expandCommand(%q) = %q, want %q", in, got, want)
		}
	}
	if got := expandCommand("x $PORT", map[string]string{"PORT": "8080"}, "web", 5000); got != "x 8080" {
		t.Errorf("config PORT not used: %q", got)
	}
}

func newTestScheduler(t *testing.T) *Scheduler {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st.CreateApp("app", 1)
	return New(nil, st, nil)
}

func TestRestartPolicy(t *testing.T) {
	s := newTestScheduler(t)
	for v, want := range map[string]string{"": "on-failure:10", "no": "no:0", "always": "always:0", "unless-stopped": "unless-stopped:0", "on-failure": "on-failure:0", "on-failure:3": "on-failure:3"} {
		s.Store.SetProperty("ps", "app", "restart-policy", v)
		rp, err := s.restartPolicy("app")
		if got := string(rp.Name) + ":" + strconv.Itoa(rp.MaximumRetryCount); err != nil || got != want {
			t.Errorf("%q: %s %v", v, got, err)
		}
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x"} {
		s.Store.SetProperty("ps", "app", "restart-policy", bad)
		if _, err := s.restartPolicy("app"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
