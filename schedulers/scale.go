package schedulers

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"dokku-sshd/appjson"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// ProcessCount is one line of ps' scale property (LIB/config/ps/<app>/scale,
// `type=count` lines): how many containers of a process type run.
type ProcessCount struct {
	Proc  string
	Count int
}

// DefaultScale is the scale of an app whose scale was never set: one web
// process (Dokku's default formation for a new app).
func DefaultScale() []ProcessCount { return []ProcessCount{{Proc: "web", Count: 1}} }

// NotScalable is Dokku's refusal to scale up proc, a process type the
// release cannot run (or no process type at all).
func NotScalable(proc string) error {
	return output.Userf("%s is not a valid process name to scale up", proc)
}

// CheckScalable refuses (NotScalable) a count other than 0 for a type the
// release cannot run: one its Procfile lacks, or, when it has no Procfile
// (procfile nil), any type but web, which runs the image's own command.
func CheckScalable(pc ProcessCount, procfile map[string]string) error {
	if pc.Count != 0 && procfile[pc.Proc] == "" && (procfile != nil || pc.Proc != "web") {
		return NotScalable(pc.Proc)
	}
	return nil
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
	// A scale file written by hand may have spaces around the name.
	proc, n = strings.TrimSpace(proc), strings.TrimSpace(n)
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

// ReadScale returns app's scale property as it is written (ps:scale's
// report of it); set reports whether it exists.
func ReadScale(st *store.Store, app string) (pcs []ProcessCount, set bool, err error) {
	raw, set, err := st.LookupProperty("ps", app, "scale")
	if err != nil {
		return nil, false, err
	}
	pcs, err = ParseScale(raw)
	return pcs, set, err
}

// CurrentScale is the scale app runs: its scale property, else (never
// scaled) DefaultScale.
func CurrentScale(st *store.Store, app string) ([]ProcessCount, error) {
	pcs, set, err := ReadScale(st, app)
	if err != nil || !set {
		return DefaultScale(), err
	}
	return pcs, nil
}

// ApplyScale returns current with changes applied (a type not in current
// is added), sorted by type, and the types whose count changed, sorted
// (a type changed twice is listed twice).
func ApplyScale(current, changes []ProcessCount) (next []ProcessCount, changed []string) {
	counts := map[string]int{}
	for _, pc := range current {
		counts[pc.Proc] = pc.Count
	}
	for _, c := range changes {
		if old, ok := counts[c.Proc]; !ok || old != c.Count {
			changed = append(changed, c.Proc)
		}
		counts[c.Proc] = c.Count
	}
	next = make([]ProcessCount, 0, len(counts))
	for proc, n := range counts {
		next = append(next, ProcessCount{Proc: proc, Count: n})
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Proc < next[j].Proc })
	sort.Strings(changed)
	return next, changed
}

// SetScale applies changes to app's scale (ps:scale) and returns the types
// whose count changed. It reads and writes under the release lock: a
// deploy that fails puts back the scale it found, and must not undo this
// one.
func SetScale(ctx context.Context, st *store.Store, app string, changes []ProcessCount) (changed []string, err error) {
	unlock, err := LockRelease(ctx, st, app)
	if err != nil {
		return nil, err
	}
	defer unlock()
	current, err := CurrentScale(st, app)
	if err != nil {
		return nil, err
	}
	next, changed := ApplyScale(current, changes)
	if err := st.SetProperty("ps", app, "scale", FormatScale(next)); err != nil {
		return nil, err
	}
	return changed, nil
}

// SyncScale brings app's scale up to date for a release, as Dokku does
// before scheduler-deploy (ps post-release-builder, app-json setScale), and
// returns the scale to deploy (ps-current-scale: scale and scale.old,
// sorted by type):
//   - app.json formation quantities replace the scale, and make it
//     unscalable by hand (ps can-scale);
//   - types of the Procfile that are not scaled yet get 0;
//   - unscaled types that left the Procfile move to scale.old.
//
// procfile nil: the release has no Procfile.
func SyncScale(st *store.Store, app string, aj *appjson.File, procfile map[string]string) ([]ProcessCount, error) {
	current, err := CurrentScale(st, app)
	if err != nil {
		return nil, err
	}
	updates := formationScale(aj)
	fromAppJSON := len(updates) > 0
	if err := st.SetProperty("ps", app, "can-scale", strconv.FormatBool(!fromAppJSON)); err != nil {
		return nil, err
	}
	if fromAppJSON {
		current = nil // ps-set-scale with clear-existing
	}
	seen := map[string]bool{}
	var merged []ProcessCount
	for _, pc := range append(updates, current...) {
		if seen[pc.Proc] {
			continue
		}
		if fromAppJSON && procfile != nil {
			if err := CheckScalable(pc, procfile); err != nil {
				return nil, err
			}
		}
		seen[pc.Proc] = true
		merged = append(merged, pc)
	}
	procs := make([]string, 0, len(procfile))
	for p := range procfile {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	for _, p := range procs {
		if !seen[p] {
			merged = append(merged, ProcessCount{Proc: p, Count: 0})
		}
	}
	var keep, old []ProcessCount
	for _, pc := range merged {
		if procfile != nil && procfile[pc.Proc] == "" && pc.Count == 0 {
			old = append(old, pc)
			continue
		}
		keep = append(keep, pc)
	}
	if err := st.SetProperty("ps", app, "scale.old", FormatScale(old)); err != nil {
		return nil, err
	}
	if err := st.SetProperty("ps", app, "scale", FormatScale(keep)); err != nil {
		return nil, err
	}
	all := append(keep, old...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Proc < all[j].Proc })
	return all, nil
}

// formationScale is the scale app.json's formation sets (types with a
// quantity), sorted by type; nil when it sets none.
func formationScale(aj *appjson.File) []ProcessCount {
	if aj == nil {
		return nil
	}
	var out []ProcessCount
	for proc, f := range aj.Formation {
		if f.Quantity != nil {
			out = append(out, ProcessCount{Proc: proc, Count: *f.Quantity})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proc < out[j].Proc })
	return out
}
