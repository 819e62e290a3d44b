package gitrecv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// capabilities advertised by receive-pack.
const capabilities = "report-status delete-refs side-band-64k quiet atomic push-options ofs-delta object-format=sha1"

// Push is what the deploy hook sees of a push whose pack has arrived and
// passed the connectivity check, before any ref moves.
type Push struct {
	App         string
	Repo        string
	Commands    []Command
	PushOptions []string
	// Env makes git commands see the pushed objects (GIT_DIR and the
	// quarantine object directory with the repository's as alternate).
	Env []string
	// Out is the client's terminal: side-band 2 (`remote: ` lines) when
	// negotiated, else plain stderr. Safe for concurrent writes.
	Out io.Writer
}

// Hook runs in process where a pre-receive hook would: an error rejects every
// ref of the push and leaves them unchanged.
type Hook func(ctx context.Context, p *Push) error

// hookDeclined is what the client sees when the hook fails.
const hookDeclined = "pre-receive hook declined"

// Receiver serves git-receive-pack for one repository at a time.
type Receiver struct {
	Logger *slog.Logger
	Hook   Hook
	// MaxPackSize bounds one push's pack in bytes (0: unlimited).
	MaxPackSize int64
	// Heartbeat is how long a hook may stay silent before it gets a
	// progress line, so that clients and proxies do not give up (default
	// 20s).
	Heartbeat time.Duration
	// Repo, when set, runs the repository's own hooks and honours its
	// receive.* settings as C git does (Dokku host mode); Hook is not used.
	Repo *RepoHooks
	// Agent is advertised as agent=<Agent>.
	Agent string
	// RefsMoved runs once a push moved at least one ref, before the report
	// goes out (to point HEAD at the deploy branch: a client that reads
	// "ok" may clone at once). Like the ref updates, it runs on a context
	// the client cannot cancel: libgit2 and go-git close the connection as
	// soon as they have read the report.
	RefsMoved func(ctx context.Context, app, repo string)
}

// commitTimeout bounds the steps of a push that run whether or not the
// client is still there (object migration, ref updates, RefsMoved).
const commitTimeout = 2 * time.Minute

// status of one command in the report.
type status struct {
	ok     bool
	reason string
}

// ReceivePack speaks the receive-pack protocol on in/out for repo (a bare
// repository that exists); errw is the session's stderr, where progress goes
// when the client did not ask for side-band. The caller holds the app's
// deploy lock.
func (r *Receiver) ReceivePack(ctx context.Context, app, repo string, in io.Reader, out, errw io.Writer) error {
	if r.Repo != nil {
		return r.receiveHost(ctx, app, repo, in, out, errw)
	}
	log := r.log()
	removeStale(app, repo, log)
	refs, req, err := r.negotiate(ctx, repo, in, out)
	if err != nil || req == nil {
		return err
	}
	w := newReportWriter(out, errw, req.Has("side-band-64k"))
	w.push = pushRecordFrom(ctx)
	results := make([]status, len(req.Commands))

	quarantine, unpackErr := r.unpack(ctx, app, repo, in, req, w)
	defer func() {
		if quarantine != "" {
			os.RemoveAll(quarantine)
		}
	}()
	if unpackErr != "" {
		for i := range results {
			results[i] = status{reason: "unpacker error"}
		}
		return w.report(unpackErr, req.Commands, results)
	}
	env := quarantineEnv(repo, quarantine)
	accepted := r.checkAll(ctx, repo, env, req, len(refs) == 0, results)
	if len(accepted) > 0 && r.Hook != nil {
		hb := newHeartbeat(w.progress(), r.heartbeat())
		err := r.Hook(ctx, &Push{App: app, Repo: repo, Commands: accepted, PushOptions: req.PushOptions, Env: env, Out: hb})
		hb.stop()
		if err != nil {
			log.Info("push declined", "app", app, "err", err)
			failAll(results, hookDeclined)
			return w.report("", req.Commands, results)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err() // the client is gone: move nothing
	}
	r.commit(ctx, app, repo, quarantine, req, len(accepted) > 0, results)
	return w.report("", req.Commands, results)
}

func (r *Receiver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// negotiate advertises repo's refs and reads the client's request; the
// request is nil when the client only wanted the refs.
func (r *Receiver) negotiate(ctx context.Context, repo string, in io.Reader, out io.Writer) ([]Ref, *Request, error) {
	return r.negotiateWith(ctx, repo, capabilities, in, out)
}

// negotiateWith is negotiate advertising caps.
func (r *Receiver) negotiateWith(ctx context.Context, repo, caps string, in io.Reader, out io.Writer) ([]Ref, *Request, error) {
	refs, err := ListRefs(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	if err := r.advertise(refs, caps, out); err != nil {
		return nil, nil, err
	}
	req, err := ReadRequest(in)
	if errors.Is(err, ErrEmptyRequest) {
		// Nothing to push: the client only wanted the refs.
		drainEmptyRequest(ctx, in)
		return refs, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return refs, req, nil
}

// unpack stores the request's pack, when it has one, in a quarantine; a
// failure is the reason for the client's "unpack" line.
func (r *Receiver) unpack(ctx context.Context, app, repo string, in io.Reader, req *Request, w *reportWriter) (quarantine, unpackErr string) {
	if !req.NeedsPack() {
		return "", ""
	}
	quarantine, err := r.indexPack(ctx, repo, in, w, req.Has("quiet"), len(req.Shallow) == 0)
	if err != nil {
		// one pkt-line: git prints it as "remote unpack failed: <reason>"
		return "", strings.ReplaceAll(output.Reason(ctx, r.log(), err, "app", app, "step", "unpack"), "\n", "; ")
	}
	return quarantine, ""
}

// checkAll runs the per-command checks (connectivity of new objects, old
// values still current) into results, fails them all when an atomic push
// has one failure, and returns the commands accepted.
func (r *Receiver) checkAll(ctx context.Context, repo string, env []string, req *Request, noRefs bool, results []status) []Command {
	for i, c := range req.Commands {
		results[i] = r.check(ctx, repo, env, c, noRefs && len(req.Shallow) == 0)
		if !results[i].ok && results[i].reason == "missing necessary objects" && len(req.Shallow) > 0 {
			results[i].reason = "shallow update not allowed" // what C git answers a shallow client
		}
	}
	if req.Has("atomic") && anyFailed(results) {
		failAll(results, "atomic push failure")
	}
	accepted := make([]Command, 0, len(req.Commands))
	for i, c := range req.Commands {
		if results[i].ok {
			accepted = append(accepted, c)
		}
	}
	return accepted
}

// commit moves the accepted objects into the repository and the refs, and
// runs RefsMoved. The push is decided by now: a client that goes away must
// not cut the ref updates short (a killed update-ref leaves its lock), so
// it runs on a context the client cannot cancel.
func (r *Receiver) commit(ctx context.Context, app, repo, quarantine string, req *Request, accepted bool, results []status) {
	commit, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if quarantine != "" && accepted {
		if err := migrate(quarantine, filepath.Join(repo, "objects")); err != nil {
			r.log().Error("migrate quarantine", "app", app, "err", err)
			failAll(results, "unable to migrate objects to permanent storage")
			return
		}
	}
	r.updateRefs(commit, repo, req, results)
	if r.RefsMoved != nil && !allFailed(results) {
		r.RefsMoved(commit, app, repo)
	}
}

// emptyRequestGrace bounds the wait for what a client sends after an empty
// command list, for a client that neither sends more nor hangs up.
const emptyRequestGrace = 10 * time.Second

// drainEmptyRequest reads what may follow an empty command list: git sends
// its push options (a flush, the options, a flush) even when it has nothing
// to push, and hanging up before reading them kills it with SIGPIPE (exit
// 141, "broken pipe") when its writes land after the channel closed. It
// stops at the end of the option list, at end of input, on ctx, or after
// emptyRequestGrace; a reader left behind ends when the session closes.
func drainEmptyRequest(ctx context.Context, in io.Reader) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := pktline.NewScanner(in)
		for i := 0; i <= maxPushOptions && s.Scan(); i++ {
			if len(s.Bytes()) == 0 {
				return // flush-pkt: end of the push options
			}
		}
	}()
	t := time.NewTimer(emptyRequestGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *Receiver) heartbeat() time.Duration {
	if r.Heartbeat > 0 {
		return r.Heartbeat
	}
	return 20 * time.Second // with the 1/4 tick, no silence lasts over 25 s
}

// advertise writes the ref advertisement.
func (r *Receiver) advertise(refs []Ref, caps string, out io.Writer) error {
	if r.Agent != "" {
		caps += " agent=" + r.Agent
	}
	bw := bufio.NewWriter(out)
	e := pktline.NewEncoder(bw)
	if len(refs) == 0 {
		if err := e.Encodef("%s capabilities^{}\x00%s\n", zeroHex, caps); err != nil {
			return err
		}
	}
	for i, ref := range refs {
		line := ref.Hash.String() + " " + ref.Name
		if i == 0 {
			line += "\x00" + caps
		}
		if err := e.EncodeString(line + "\n"); err != nil {
			return err
		}
	}
	if err := e.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

const zeroHex = "0000000000000000000000000000000000000000"

// indexPack stores the pack in a new quarantine directory inside repo's
// object store (same filesystem, so migration is a rename).
// strict is off for a shallow client's pack, whose links stop at its
// shallow boundary: the connectivity check decides then.
func (r *Receiver) indexPack(ctx context.Context, repo string, in io.Reader, w *reportWriter, quiet, strict bool) (string, error) {
	q, err := newQuarantine(repo)
	if err != nil {
		return "", err
	}
	args := []string{"index-pack", "--stdin", "--fix-thin"}
	if strict {
		args = append(args, "--strict")
	}
	if !quiet {
		args = append(args, "-v", "--show-resolving-progress")
	}
	if r.MaxPackSize > 0 {
		args = append(args, fmt.Sprintf("--max-input-size=%d", r.MaxPackSize))
	}
	var errTail tailBuffer
	var stderr io.Writer = &errTail
	if !quiet {
		stderr = io.MultiWriter(&errTail, w.progress())
	}
	if err := feedPack(ctx, repo, q, in, stderr, args); err != nil {
		os.RemoveAll(q)
		if errors.Is(err, errUnpackerFailed) {
			return "", fmt.Errorf("index-pack failed: %s", errTail.lastLine())
		}
		return "", fmt.Errorf("index-pack: %w", err)
	}
	return q, nil
}

// newQuarantine makes an empty quarantine objects directory in repo.
func newQuarantine(repo string) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	q := filepath.Join(repo, "objects", "incoming-"+hex.EncodeToString(rnd[:]))
	if err := os.MkdirAll(filepath.Join(q, "pack"), 0o755); err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	return q, nil
}

// errUnpackerFailed is an index-pack or unpack-objects that ran and failed.
var errUnpackerFailed = errors.New("unpacker failed")

// feedPack runs git with args (index-pack or unpack-objects) in the
// quarantine q on the pack read from in, its stderr to stderr.
func feedPack(ctx context.Context, repo, q string, in io.Reader, stderr io.Writer, args []string) error {
	cmd := gitexec.Command(ctx, repo, quarantineEnv(repo, q), args...)
	cmd.Stdout = io.Discard // "pack\t<hash>"
	cmd.Stderr = stderr
	// The pack marks its own end and the client then waits for the report
	// without closing its side, so git gets a pipe fed by our own
	// goroutine: exec's copy would wait for EOF on the channel.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(stdin, in) // ends when git exits (EPIPE) or the client closes
		stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		return errUnpackerFailed
	}
	return nil
}

// quarantineEnv lets git see objects in the quarantine as well as the
// repository's own.
func quarantineEnv(repo, q string) []string {
	if q == "" {
		return []string{"GIT_DIR=" + repo}
	}
	return []string{
		"GIT_DIR=" + repo,
		"GIT_OBJECT_DIRECTORY=" + q,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(repo, "objects"),
		"GIT_QUARANTINE_PATH=" + q,
	}
}

// check decides whether one command may proceed: its new objects are
// complete and its old value is the ref's current value. In a repository
// that had no refs the pack is all there is, and `index-pack --strict`
// already refused any link to a missing object, so the connectivity walk
// (the largest memory peak of a first push) is skipped.
func (r *Receiver) check(ctx context.Context, repo string, env []string, c Command, emptyRepo bool) status {
	cur, err := ResolveRef(ctx, repo, c.Ref)
	if err != nil {
		return status{reason: "failed to lock"}
	}
	if cur != c.Old {
		return status{reason: "stale info"}
	}
	if c.IsDelete() {
		if c.Old.IsZero() {
			return status{reason: "deletion of a ref that does not exist"}
		}
		return status{ok: true}
	}
	// Connectivity: everything reachable from the new tip is present.
	if !emptyRepo {
		_, err = gitexec.Output(ctx, repo, env, strings.NewReader(c.New.String()+"\n"),
			"rev-list", "--objects", "--stdin", "--not", "--all", "--quiet")
		if err != nil {
			return status{reason: "missing necessary objects"}
		}
	}
	if strings.HasPrefix(c.Ref, "refs/heads/") {
		out, err := gitexec.Output(ctx, repo, env, nil, "cat-file", "-t", c.New.String())
		if err != nil || strings.TrimSpace(string(out)) != "commit" {
			return status{reason: "refusing to update a branch to a non-commit object"}
		}
	}
	return status{ok: true}
}

func anyFailed(rs []status) bool {
	for _, s := range rs {
		if !s.ok {
			return true
		}
	}
	return false
}

func allFailed(rs []status) bool {
	for _, s := range rs {
		if s.ok {
			return false
		}
	}
	return true
}

// failAll rejects every command still accepted.
func failAll(rs []status, reason string) {
	for i := range rs {
		if rs[i].ok || rs[i].reason == "" {
			rs[i] = status{reason: reason}
		}
	}
}

// updateRefs moves refs compare-and-swap through `git update-ref --stdin`,
// one transaction for an atomic push, one per ref otherwise.
func (r *Receiver) updateRefs(ctx context.Context, repo string, req *Request, results []status) {
	line := refLine
	if req.Has("atomic") {
		var b strings.Builder
		for i, c := range req.Commands {
			if results[i].ok {
				b.WriteString(line(c))
			}
		}
		if b.Len() == 0 {
			return
		}
		if _, err := gitexec.Output(ctx, repo, nil, strings.NewReader(b.String()), "update-ref", "--stdin"); err != nil {
			failAll(results, "failed to update ref")
		}
		return
	}
	for i, c := range req.Commands {
		if !results[i].ok {
			continue
		}
		if _, err := gitexec.Output(ctx, repo, nil, strings.NewReader(line(c)), "update-ref", "--stdin"); err != nil {
			results[i] = status{reason: "failed to update ref"}
		}
	}
}

// refLine is the `git update-ref --stdin` line of one command, which moves
// the ref only from its old value.
func refLine(c Command) string {
	if c.IsDelete() {
		return fmt.Sprintf("delete %s %s\n", c.Ref, c.Old)
	}
	return fmt.Sprintf("update %s %s %s\n", c.Ref, c.New, c.Old)
}

// migrate moves the quarantine's objects into the repository: loose objects
// and packs, each pack's .idx last so no reader sees an index without its
// pack; then fsyncs the directories so a crash cannot lose them after the
// refs moved.
func migrate(q, objects string) error {
	var idx [][2]string
	err := filepath.WalkDir(q, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(q, path)
		dst := filepath.Join(objects, rel)
		if strings.HasSuffix(path, ".idx") {
			idx = append(idx, [2]string{path, dst})
			return nil
		}
		return moveFile(path, dst)
	})
	if err != nil {
		return err
	}
	for _, p := range idx {
		if err := moveFile(p[0], p[1]); err != nil {
			return err
		}
	}
	return store.SyncDir(filepath.Join(objects, "pack"))
}

func moveFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if f, err := os.Open(src); err == nil {
		_ = f.Sync()
		f.Close()
	}
	if _, err := os.Stat(dst); err == nil {
		return os.Remove(src) // same content-addressed object already there
	}
	return os.Rename(src, dst)
}

// reportWriter writes progress and the final report, multiplexed on
// side-band-64k when the client asked for it.
type reportWriter struct {
	mu   sync.Mutex
	out  io.Writer
	errw io.Writer
	mux  *sideband.Muxer
	band bool
	push *pushRecord // nil without an observer
}

func newReportWriter(out, errw io.Writer, band bool) *reportWriter {
	w := &reportWriter{out: out, errw: errw, band: band}
	if band {
		w.mux = sideband.NewMuxer(sideband.Sideband64k, out)
	}
	return w
}

// progressWriter writes to side-band 2, or to the session's stderr without
// side-band.
type progressWriter struct{ w *reportWriter }

func (p progressWriter) Write(b []byte) (int, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	if !p.w.band {
		return p.w.errw.Write(b)
	}
	return p.w.mux.WriteChannel(sideband.ProgressMessage, b)
}

func (w *reportWriter) progress() io.Writer { return progressWriter{w} }

// report sends report-status and ends the side-band stream.
func (w *reportWriter) report(unpackErr string, cmds []Command, rs []status) error {
	if err := w.writeReport(unpackErr, cmds, rs); err != nil {
		return err
	}
	return w.end()
}

// writeReport sends report-status.
func (w *reportWriter) writeReport(unpackErr string, cmds []Command, rs []status) error {
	w.push.reported(unpackErr, rs)
	var b strings.Builder
	e := pktline.NewEncoder(&b)
	if unpackErr != "" {
		_ = e.EncodeString("unpack " + unpackErr + "\n")
	} else {
		_ = e.EncodeString("unpack ok\n")
	}
	for i, c := range cmds {
		if rs[i].ok {
			_ = e.EncodeString("ok " + c.Ref + "\n")
		} else {
			_ = e.EncodeString("ng " + c.Ref + " " + rs[i].reason + "\n")
		}
	}
	_ = e.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.band {
		_, err := w.mux.WriteChannel(sideband.PackData, []byte(b.String()))
		return err
	}
	_, err := io.WriteString(w.out, b.String())
	return err
}

// keepalive sends an empty side-band 1 packet: traffic that carries
// nothing (receive-pack's keepalive while a hook is silent).
func (w *reportWriter) keepalive() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = io.WriteString(w.out, "0005\x01")
}

// end closes the side-band stream (its flush-pkt), after the report and
// what follows it on side-band 2.
func (w *reportWriter) end() error {
	if !w.band {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return pktline.NewEncoder(w.out).Flush()
}

// tailBuffer keeps the last bytes written (for error messages).
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) lastLine() string {
	lines := strings.FieldsFunc(string(t.b), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) == 0 {
		return "unknown error"
	}
	return strings.TrimPrefix(lines[len(lines)-1], "fatal: ")
}
