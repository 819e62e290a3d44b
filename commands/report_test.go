package commands

import (
	"strings"
	"testing"
)

func TestReportKey(t *testing.T) {
	for flag, want := range map[string]string{
		"scheduler-computed-selected": "Scheduler computed selected",
		"status-web.1":                "Status web 1",
		"deployed":                    "Deployed",
		"":                            "",
	} {
		if got := reportKey(flag); got != want {
			t.Errorf("reportKey(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestFormatReport(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{
			// docs/dokku-behaviour.md#report-layout's worked example (L = 31,
			// values at column 38).
			name: "scheduler",
			fields: map[string]string{
				"scheduler-computed-selected": "docker-local", "scheduler-computed-shell": "",
				"scheduler-global-selected": "", "scheduler-global-shell": "",
				"scheduler-selected": "", "scheduler-shell": "",
			},
			want: "" +
				"       Scheduler computed selected:   docker-local\n" +
				"       Scheduler computed shell:      \n" +
				"       Scheduler global selected:     \n" +
				"       Scheduler global shell:        \n" +
				"       Scheduler selected:            \n" +
				"       Scheduler shell:               \n",
		},
		{
			// A flag longer than 31 widens the key column: the git report's
			// longest flag is 32 characters, so values start at column 39.
			name: "git widths",
			fields: map[string]string{
				"git-computed-archive-max-files": "10000",
				"git-sha":                        "abc",
			},
			want: "" +
				"       Git computed archive max files: 10000\n" +
				"       Git sha:                        abc\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatReport(tt.fields)
			if got != tt.want {
				t.Fatalf("FormatReport:\n%s\nwant:\n%s", strings.ReplaceAll(got, " \n", "␠\n"), strings.ReplaceAll(tt.want, " \n", "␠\n"))
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	fields := map[string]string{"scheduler-selected": "k3s", "deployed": "true"}
	got := reportJSON(ReportSpec{FlagPrefix: "scheduler", Legacy: true}, fields)
	want := `{"deployed":"true","scheduler-selected":"k3s","selected":"k3s"}`
	if got != want {
		t.Fatalf("legacy JSON = %s, want %s", got, want)
	}
	got = reportJSON(ReportSpec{FlagPrefix: "scheduler"}, fields)
	want = `{"deployed":"true","selected":"k3s"}`
	if got != want {
		t.Fatalf("stripped JSON = %s, want %s", got, want)
	}
}
