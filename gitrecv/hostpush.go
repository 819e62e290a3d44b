package gitrecv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dokku-sshd/internal/gitexec"
)

// receiveHost is ReceivePack in host mode: the steps of C git's
// receive-pack in its order, with the repository's hooks and settings.
// Pre-receive sees every command; the refs' rules (denyDeletes,
// denyNonFastForwards) and the update hook come after it, once the objects
// are in; post-receive and post-update run after the report.
func (r *Receiver) receiveHost(ctx context.Context, app, repo string, in io.Reader, out, errw io.Writer) error {
	// No sweep of leftovers here: without the deploy lock, a quarantine or
	// a ref lock may belong to a push running beside this one.
	cfg, err := readRepoConfig(ctx, repo)
	if err != nil {
		return err
	}
	refs, req, err := r.negotiateWith(ctx, repo, cfg.capabilities(), in, out)
	if err != nil || req == nil {
		return err
	}
	w := newReportWriter(out, errw, req.Has("side-band-64k"))
	w.push = pushRecordFrom(ctx)
	results := make([]status, len(req.Commands))
	quarantine, unpackErr := r.unpackHost(ctx, repo, in, req, cfg, w)
	defer func() {
		if quarantine != "" {
			os.RemoveAll(quarantine)
		}
	}()
	if unpackErr != "" {
		failAll(results, "unpacker error")
		return w.report(unpackErr, req.Commands, results)
	}
	env := quarantineEnv(repo, quarantine)
	// Without --strict the pack may link to missing objects: the
	// connectivity walk must run even in an empty repository.
	r.checkAll(ctx, repo, env, req, len(refs) == 0 && cfg.fsckObjects && len(req.Shallow) == 0, results)
	hooks := &pushHooks{RepoHooks: r.Repo, repo: repo, cfg: cfg, errw: errw, out: w.progress()}
	if w.band {
		hooks.keepalive = w.keepalive
	}
	if p := hooks.find("pre-receive"); p != "" {
		extra := append(pushOptionEnv(req), hookQuarantineEnv(repo, quarantine)...)
		if err := hooks.run(ctx, p, hookRun{name: "pre-receive", stdin: feed(req.Commands), extra: extra}); err != nil {
			r.log().Info("push declined", "app", app, "err", err)
			failAll(results, hookDeclined)
			return w.report("", req.Commands, results)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err() // the client is gone: move nothing
	}
	r.commitHost(ctx, app, quarantine, req, hooks, results)
	if err := w.writeReport("", req.Commands, results); err != nil {
		return err
	}
	r.afterRefs(context.WithoutCancel(ctx), req, hooks, results)
	if cfg.autoGC {
		// As receive-pack's receive.autogc, its words on side-band 2, and
		// detached when gc.autoDetach says so, as under C git.
		gc := gcCommand(context.WithoutCancel(ctx), repo)
		gc.Stdout, gc.Stderr = hooks.out, hooks.out
		if err := gc.Run(); err != nil {
			r.log().Warn("git gc --auto", "app", app, "err", err)
		}
	}
	return w.end()
}

// hookQuarantineEnv is what pre-receive gets of the quarantine, spelt as C
// git spells it (the repository's objects through "./", as GIT_DIR is ".").
func hookQuarantineEnv(repo, q string) []string {
	if q == "" {
		return nil
	}
	objects := absDir(repo) + "/./objects"
	qp := objects + "/" + filepath.Base(q)
	return []string{"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + objects, "GIT_OBJECT_DIRECTORY=" + qp, "GIT_QUARANTINE_PATH=" + qp}
}

func absDir(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// unpackHost stores the pack as C git's receive-pack does: unpack-objects
// below the unpack limit, index-pack from it on, --strict only with
// receive.fsckObjects; their messages go to the client, and a failure is
// named as C git names it.
func (r *Receiver) unpackHost(ctx context.Context, repo string, in io.Reader, req *Request, cfg repoConfig, w *reportWriter) (quarantine, unpackErr string) {
	if !req.NeedsPack() {
		return "", ""
	}
	var hdr [12]byte
	if _, err := io.ReadFull(in, hdr[:]); err != nil || string(hdr[:4]) != "PACK" {
		return "", "protocol error (pack signature mismatch detected)"
	}
	q, err := newQuarantine(repo)
	if err != nil {
		return "", "unable to create temporary object directory"
	}
	quiet, strict := req.Has("quiet"), cfg.fsckObjects
	var args []string
	what := "index-pack"
	if int(binary.BigEndian.Uint32(hdr[8:])) < cfg.unpackLimit {
		what = "unpack-objects"
		args = []string{"unpack-objects"}
		if quiet {
			args = append(args, "-q")
		}
	} else {
		args = []string{"index-pack", "--stdin"}
		if !quiet {
			args = append(args, "--show-resolving-progress")
		}
		args = append(args, "--fix-thin")
	}
	if strict {
		args = append(args, "--strict")
	}
	if r.MaxPackSize > 0 {
		args = append(args, fmt.Sprintf("--max-input-size=%d", r.MaxPackSize))
	}
	if err := feedPack(ctx, repo, q, io.MultiReader(bytes.NewReader(hdr[:]), in), w.progress(), args); err != nil {
		os.RemoveAll(q)
		if errors.Is(err, errUnpackerFailed) {
			return "", what + " abnormal exit"
		}
		return "", what + " fork failed"
	}
	return q, ""
}

// commitHost moves the objects in, then takes each command still accepted
// through the ref rules and the update hook and moves its ref: one by one,
// or all in one transaction for an atomic push, where the first refusal
// fails the rest.
func (r *Receiver) commitHost(ctx context.Context, app, quarantine string, req *Request, hooks *pushHooks, results []status) {
	repo := hooks.repo
	if allFailed(results) {
		return
	}
	commit, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if quarantine != "" {
		if err := migrate(quarantine, filepath.Join(repo, "objects")); err != nil {
			r.log().Error("migrate quarantine", "app", app, "err", err)
			failAll(results, "unable to migrate objects to permanent storage")
			return
		}
	}
	// The branch HEAD names, which a push may not delete unless allowed.
	if out, err := gitexec.Output(commit, repo, nil, nil, "symbolic-ref", "-q", "HEAD"); err == nil {
		hooks.head = strings.TrimSpace(string(out))
	}
	atomic := req.Has("atomic")
	var batch strings.Builder
	for i, c := range req.Commands {
		if !results[i].ok {
			continue
		}
		if reason := r.refRules(commit, c, hooks); reason != "" {
			results[i] = status{reason: reason}
			if atomic {
				failAll(results, "atomic push failure")
				return
			}
			continue
		}
		if atomic {
			batch.WriteString(refLine(c))
			continue
		}
		if _, err := gitexec.Output(commit, repo, nil, strings.NewReader(refLine(c)), "update-ref", "--stdin"); err != nil {
			fmt.Fprintf(hooks.out, "error: %s\n", firstLine(err))
			results[i] = status{reason: "failed to update ref"}
		}
	}
	if batch.Len() > 0 {
		if _, err := gitexec.Output(commit, repo, nil, strings.NewReader(batch.String()), "update-ref", "--stdin"); err != nil {
			fmt.Fprintf(hooks.out, "error: %s\n", firstLine(err))
			failAll(results, "atomic transaction failed")
		}
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// refRules is C git's per-ref step before the ref moves: denyDeletes and
// denyNonFastForwards for branches, then the update hook; it returns the
// reason of a refusal, after telling the client as C git does.
func (r *Receiver) refRules(ctx context.Context, c Command, hooks *pushHooks) string {
	repo, cfg, w := hooks.repo, hooks.cfg, hooks.out
	branch := strings.HasPrefix(c.Ref, "refs/heads/")
	if c.IsDelete() && cfg.denyDeletes && branch {
		fmt.Fprintf(w, "error: denying ref deletion for %s\n", c.Ref)
		return "deletion prohibited"
	}
	if c.IsDelete() && c.Ref == hooks.head {
		switch cfg.denyDeleteCurrent {
		case "ignore":
		case "warn":
			fmt.Fprintf(w, "warning: deleting the current branch\n")
		default:
			if cfg.denyDeleteCurrent == "" {
				fmt.Fprintf(w, "error: %s\n", refuseDeleteCurrent)
			}
			fmt.Fprintf(w, "error: refusing to delete the current branch: %s\n", c.Ref)
			return "deletion of the current branch prohibited"
		}
	}
	if cfg.denyNonFastForwards && branch && !c.IsDelete() && !c.Old.IsZero() {
		_, err := gitexec.Output(ctx, repo, nil, nil, "merge-base", "--is-ancestor", c.Old.String(), c.New.String())
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
			fmt.Fprintf(w, "error: denying non-fast-forward %s (you should pull first)\n", c.Ref)
			return "non-fast-forward"
		} else if err != nil {
			fmt.Fprintf(w, "error: bad sha1 objects for %s\n", c.Ref)
			return "bad ref"
		}
	}
	if p := hooks.find("update"); p != "" {
		run := hookRun{name: "update", args: []string{c.Ref, c.Old.String(), c.New.String()}}
		if err := hooks.run(ctx, p, run); err != nil {
			fmt.Fprintf(w, "error: hook declined to update %s\n", c.Ref)
			return "hook declined"
		}
	}
	return ""
}

// afterRefs runs post-receive with the commands that moved their ref, then
// post-update with their names, both after the report as in C git.
func (r *Receiver) afterRefs(ctx context.Context, req *Request, hooks *pushHooks, results []status) {
	var moved []Command
	for i, c := range req.Commands {
		if results[i].ok {
			moved = append(moved, c)
		}
	}
	if len(moved) == 0 {
		return
	}
	if p := hooks.find("post-receive"); p != "" {
		run := hookRun{name: "post-receive", stdin: feed(moved), extra: pushOptionEnv(req)}
		if err := hooks.run(ctx, p, run); err != nil {
			r.log().Info("post-receive hook failed", "repo", hooks.repo, "err", err)
		}
	}
	if p := hooks.find("post-update"); p != "" {
		args := make([]string, len(moved))
		for i, c := range moved {
			args[i] = c.Ref
		}
		if err := hooks.run(ctx, p, hookRun{name: "post-update", args: args}); err != nil {
			r.log().Info("post-update hook failed", "repo", hooks.repo, "err", err)
		}
	}
}

// refuseDeleteCurrent is C git's explanation when receive.denyDeleteCurrent
// is not set.
const refuseDeleteCurrent = `By default, deleting the current branch is denied, because the next
'git clone' won't result in any file checked out, causing confusion.

You can set 'receive.denyDeleteCurrent' configuration variable to
'warn' or 'ignore' in the remote repository to allow deleting the
current branch, with or without a warning message.

To squelch this message, you can set it to 'refuse'.`
