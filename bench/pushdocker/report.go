package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

var csvCols = []string{"running", "before_build", "git_receive", "pipeline_to_step1", "docker_build", "release", "container", "create", "start", "inspect", "until_answer", "checks", "listen_check", "after_checks", "push_exit", "after_running", "retired_after_exit", "server_cpu", "server_self_cpu", "client_cpu", "dockerd_cpu"}

func writeCSV(path string, rs []result) error {
	var b strings.Builder
	b.WriteString("regime,path,round,index," + strings.Join(csvCols, ",") + "\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "%s,%s,%d,%d", r.Regime, r.Path, r.Round, r.Index)
		for _, c := range csvCols {
			if v, ok := r.P[c]; ok && !math.IsNaN(v) {
				fmt.Fprintf(&b, ",%.1f", v)
			} else {
				b.WriteString(",")
			}
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if !math.IsNaN(x) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi
}

func pick(rs []result, regime, path, kind, col string) []float64 {
	var out []float64
	for _, r := range rs {
		if r.Regime != regime || r.Path != path || (kind != "all" && r.kind() != kind) {
			continue
		}
		if v, ok := r.P[col]; ok {
			out = append(out, v)
		} else {
			out = append(out, math.NaN())
		}
	}
	return out
}

// pairOverheads are (server - direct) / direct of push-to-running for the
// deploys run back to back (same regime, round and index).
func pairOverheads(rs []result, regime, kind string) (rel, abs []float64) {
	type key struct{ round, index int }
	srv := map[key]float64{}
	for _, r := range rs {
		if r.Regime == regime && r.Path == "server" && (kind == "all" || r.kind() == kind) {
			srv[key{r.Round, r.Index}] = r.P["running"]
		}
	}
	for _, r := range rs {
		if r.Regime == regime && r.Path == "direct" && (kind == "all" || r.kind() == kind) {
			if s, ok := srv[key{r.Round, r.Index}]; ok && r.P["running"] > 0 {
				rel = append(rel, (s-r.P["running"])/r.P["running"])
				abs = append(abs, s-r.P["running"])
			}
		}
	}
	return rel, abs
}

func fmtMS(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func report(w io.Writer, rs []result, regimes []string) {
	regimeDesc := map[string]string{
		"skip": "checks skipped (checks <app> skipped=_all_)",
		"min":  "checks on, at their minimum (checks --global default-wait=0: uptime 0 + the warn-only port listening check)",
	}
	for _, reg := range regimes {
		for _, kind := range []string{"first", "redeploy"} {
			n := len(pick(rs, reg, "server", kind, "running"))
			if n == 0 {
				continue
			}
			fmt.Fprintf(w, "\n### %s, %s deploys: %s; %d server / %d direct runs, medians (ms)\n\n", reg, kind, regimeDesc[reg], n, len(pick(rs, reg, "direct", kind, "running")))
			fmt.Fprintln(w, "| phase | dokku-sshd (git push) | direct API | server - direct |")
			fmt.Fprintln(w, "|---|---:|---:|---:|")
			row := func(label, scol, dcol string) {
				s := median(pick(rs, reg, "server", kind, scol))
				d := math.NaN()
				if dcol != "" {
					d = median(pick(rs, reg, "direct", kind, dcol))
				}
				diff := "-"
				if !math.IsNaN(s) && !math.IsNaN(d) {
					diff = fmt.Sprintf("%+.0f", s-d)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, fmtMS(s), fmtMS(d), diff)
			}
			row("start → first build step (ssh, git, context, daemon)", "before_build", "before_build")
			row("  of which push start → \"deploy started\" (ssh, receive-pack, index-pack, log ms)", "git_receive", "")
			row("  of which \"deploy started\" → Step 1 (pipeline, git reads, build request)", "pipeline_to_step1", "")
			row("docker build (Step 1 → built)", "docker_build", "docker_build")
			row("release step (+ server bookkeeping)", "release", "release")
			row("container create + start + inspect", "container", "container")
			row("→ answering HTTP at the state file's IP", "until_answer", "until_answer")
			row("  of which checks (server)", "checks", "")
			row("  of which port listening check (server)", "listen_check", "")
			row("**push-to-running**", "running", "running")
			row("git push exit (server)", "push_exit", "")
			row("old container gone after push exit / direct swap+retire", "retired_after_exit", "after_running")
			row("CPU: dokku-sshd tree / pushdocker process", "server_cpu", "client_cpu")
			row("CPU: dokku-sshd own (children excluded)", "server_self_cpu", "")
			row("CPU: dockerd", "dockerd_cpu", "dockerd_cpu")
			lo, hi := minMax(pick(rs, reg, "direct", kind, "running"))
			slo, shi := minMax(pick(rs, reg, "server", kind, "running"))
			fmt.Fprintf(w, "\nspread of push-to-running: server %s–%s ms, direct %s–%s ms\n", fmtMS(slo), fmtMS(shi), fmtMS(lo), fmtMS(hi))
		}
		rel, abs := pairOverheads(rs, reg, "all")
		relR, _ := pairOverheads(rs, reg, "redeploy")
		relF, _ := pairOverheads(rs, reg, "first")
		s, d := median(pick(rs, reg, "server", "all", "running")), median(pick(rs, reg, "direct", "all", "running"))
		verdict := "MISS"
		if m := median(rel); !math.IsNaN(m) && m < 0.05 {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "\n**%s: overhead (server − direct) / direct, median over %d back-to-back pairs: %.1f%% (%s ms); first deploys %.1f%%, redeploys %.1f%%; ratio of medians %.1f%%. Target < 5%%: %s**\n",
			reg, len(rel), 100*median(rel), fmtMS(median(abs)), 100*median(relF), 100*median(relR), 100*(s-d)/d, verdict)
	}
}
