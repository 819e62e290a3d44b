package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"dokku-sshd/appjson"
	"dokku-sshd/dockeropts"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// ImageName is the image Dokku deploys for app: dokku/<app>:latest.
func ImageName(app string) string { return "dokku/" + app + ":latest" }

// DockerBuilder is the dockerfile builder on the Docker Engine API (the
// daemon's classic builder): Dokku's builder-dockerfile builder-build and
// builder-release triggers.
type DockerBuilder struct {
	Client *client.Client
	// Store holds the app's settings, its build-phase docker-options
	// among them (--build-arg, --label, --network...: Dokku passes no
	// config as build args by itself, only those added with
	// docker-options:add <app> build '--build-arg NAME[=VALUE]').
	Store *store.Store

	beforeRelease func(builtID string) // test hook: between the build and the release step
}

// DockerBuild returns the BuildFunc for DockerfileDetector.
func DockerBuild(cli *client.Client, st *store.Store) func(ctx context.Context, b *Build) error {
	return (&DockerBuilder{Client: cli, Store: st}).Build
}

// imageLabels are the labels of the image Dokku deploys: those of its
// dockerfile builder (builder-build: image-stage=build, builder-type,
// app-name), then of the release step (builder-release: image-stage=release),
// and DOKKU_GLOBAL_BUILD_ARGS' label-schema ones and "dokku".
func imageLabels(app string) [][2]string {
	return [][2]string{
		{"com.dokku.app-name", app},
		{"com.dokku.builder-type", "dockerfile"},
		{"com.dokku.image-stage", "release"},
		{"dokku", ""},
		{"org.label-schema.schema-version", "1.0"},
		{"org.label-schema.vendor", "dokku"},
	}
}

// ReleaseDockerfile is Dokku's builder-release.Dockerfile (a new image of
// the built one that carries the labels) with the labels in one LABEL
// instruction: the classic builder runs a step, a container, per label
// passed as a build option, about a second each.
func ReleaseDockerfile(app string) string {
	var b strings.Builder
	b.WriteString("ARG APP_IMAGE\nFROM $APP_IMAGE\nLABEL")
	for _, kv := range imageLabels(app) {
		fmt.Fprintf(&b, " %s=%s", strconv.Quote(kv[0]), strconv.Quote(kv[1]))
	}
	b.WriteString("\n")
	return b.String()
}

// sourcePaths are where app's Dockerfile and app.json are in its tree:
// builder-dockerfile's dockerfile-path and app-json's appjson-path.
func (d *DockerBuilder) sourcePaths(app string) (dockerfile, appJSON string, err error) {
	if dockerfile, err = d.Store.ComputedProperty("builder-dockerfile", app, "dockerfile-path", "Dockerfile"); err != nil {
		return "", "", err
	}
	if appJSON, err = d.Store.ComputedProperty("app-json", app, "appjson-path", "app.json"); err != nil {
		return "", "", err
	}
	return strings.Trim(dockerfile, "/"), strings.Trim(appJSON, "/"), nil
}

// Build streams the pushed tree (no checkout: git archive through a pipe,
// .dockerignore applied) to the daemon as the build context, prints the
// daemon's build output as it arrives, and tags dokku/<app>:latest only
// when the build and the release step both succeed. A cancelled ctx aborts
// the build request; whatever the build left is removed and the previous
// image keeps the tag.
//
// Its phases are readInputs, buildImage and releaseImage.
func (d *DockerBuilder) Build(ctx context.Context, b *Build) (err error) {
	if d.Client == nil {
		return output.Userf("Docker builds are not available on this server")
	}
	in, err := d.readInputs(ctx, b)
	if err != nil {
		return err
	}

	image := ImageName(b.App)
	prevID := d.imageID(ctx, image)
	var builtID string
	defer func() {
		if err != nil {
			d.discard(ctx, image, prevID, builtID)
		}
	}()

	if builtID, err = d.buildImage(ctx, b, in); err != nil {
		return err
	}
	releasedID, err := d.releaseImage(ctx, b.App, builtID, image, in)
	if releasedID != "" {
		builtID = releasedID // from here on a failure removes the released image (and its parent)
	}
	if err != nil {
		return err
	}
	// The image that ran before loses the tag and stays while its
	// containers run; the scheduler prunes it when it retires them.
	b.Image, b.ImageID, b.AppJSON = image, releasedID, in.appJSON
	return nil
}

// buildInputs is what a build reads from the tree and the app's settings
// before it sends anything to the daemon.
type buildInputs struct {
	dockerfile   string                 // its path in the tree
	dfData       []byte                 // the Dockerfile
	appJSON      []byte                 // nil: the tree has none
	dockerignore []byte                 // nil: the tree has none
	options      *dockeropts.ImageBuild // the build-phase docker-options
}

// readInputs reads the build's inputs first, so that a missing Dockerfile
// or an app.json that does not parse fails before the daemon is asked to
// build anything.
func (d *DockerBuilder) readInputs(ctx context.Context, b *Build) (*buildInputs, error) {
	app := b.App
	in := &buildInputs{}
	dockerfile, appJSONPath, err := d.sourcePaths(app)
	if err != nil {
		return nil, err
	}
	dfData, ok, err := b.Source.ReadFile(ctx, dockerfile)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, output.Userf("No Dockerfile found in source code directory")
	}
	in.dockerfile, in.dfData = dockerfile, dfData
	appJSON, hasAppJSON, err := b.Source.ReadFile(ctx, appJSONPath)
	if err != nil {
		return nil, err
	}
	if hasAppJSON {
		if _, err := appjson.Parse(appJSON); err != nil {
			return nil, output.Userf("Unable to parse %s: %v", appJSONPath, err)
		}
		in.appJSON = appJSON
	}
	if data, ok, err := b.Source.ReadFile(ctx, ".dockerignore"); err != nil {
		return nil, err
	} else if ok {
		in.dockerignore = data
	}
	if in.options, err = d.buildOptions(app); err != nil {
		return nil, err
	}
	return in, nil
}

// buildOptions reads the app's build-phase docker-options as Dokku's
// dockerfile builder uses them; a --build-arg without a value takes the
// app's config variable of that name. nil without a store.
func (d *DockerBuilder) buildOptions(app string) (*dockeropts.ImageBuild, error) {
	if d.Store == nil {
		return nil, nil
	}
	words, err := dockeropts.PhaseWords(d.Store, app, dockeropts.Build)
	if err != nil || len(words) == 0 {
		return nil, err
	}
	env, err := d.Store.Env(app)
	if err != nil {
		return nil, err
	}
	o, err := dockeropts.ParseBuild(words, env)
	if err != nil {
		return nil, output.Userf("Invalid build-phase docker option of %s: %v", app, err)
	}
	return o, nil
}

// discard leaves things as they were after a failed build: the previous
// image keeps the tag and what this build made goes away. ctx may be
// cancelled by now.
func (d *DockerBuilder) discard(ctx context.Context, image, prevID, builtID string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	d.restoreTag(cctx, image, prevID)
	if builtID != "" && builtID != prevID {
		_, _ = d.Client.ImageRemove(cctx, builtID, client.ImageRemoveOptions{PruneChildren: true})
	}
}

// buildImage builds the tree's Dockerfile, streaming the context to the
// daemon as it is archived, and returns the built image's id; the id of
// what was built is returned with a failure too, for discard.
func (d *DockerBuilder) buildImage(ctx context.Context, b *Build, in *buildInputs) (builtID string, err error) {
	pr, pw := io.Pipe()
	archiveErr := make(chan error, 1)
	go func() {
		err := writeContext(ctx, b.Source, pw, in.dockerfile, in.dockerignore)
		pw.CloseWithError(err)
		archiveErr <- err
	}()
	opts := client.ImageBuildOptions{
		Dockerfile:  in.dockerfile,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	}
	if o := in.options; o != nil {
		opts.BuildArgs, opts.Labels, opts.ExtraHosts, opts.CacheFrom, opts.Tags = o.BuildArgs, o.Labels, o.ExtraHosts, o.CacheFrom, o.Tags
		opts.CgroupParent, opts.NetworkMode, opts.Target, opts.NoCache = o.CgroupParent, o.NetworkMode, o.Target, o.NoCache
		opts.Memory, opts.MemorySwap, opts.ShmSize, opts.Ulimits = o.Memory, o.MemorySwap, o.ShmSize, o.Ulimits
	}
	res, err := d.Client.ImageBuild(ctx, pr, opts)
	if err != nil {
		pr.CloseWithError(err)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if aerr := <-archiveErr; aerr != nil {
			return "", aerr
		}
		return "", fmt.Errorf("docker build: %w", err)
	}
	builtID, err = streamBuild(res.Body, b.Out)
	res.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	if ctx.Err() != nil {
		return builtID, ctx.Err()
	}
	if err != nil {
		if aerr := <-archiveErr; aerr != nil && !errors.Is(aerr, io.ErrClosedPipe) {
			return builtID, aerr
		}
		return builtID, err
	}
	if builtID == "" {
		return "", errors.New("docker build: the daemon did not report the built image")
	}
	return builtID, nil
}

// releaseImage runs the release step on the built image, which tags it
// as image, and records what the released image brings (its app.json,
// staged for the deploy, and its ports). It returns the released image's
// id once the release step made it, with a later failure too, for discard.
func (d *DockerBuilder) releaseImage(ctx context.Context, app, builtID, image string, in *buildInputs) (releasedID string, err error) {
	// Until the release step builds on it, the built image has no tag and
	// no child: another app built from the same files shares it (the
	// layer cache), and that app's image cleanup removes untagged parents.
	// A tag of this app's own keeps it; it goes once the release exists.
	buildTag := strings.TrimSuffix(image, ":latest") + ":build"
	if _, err := d.Client.ImageTag(ctx, client.ImageTagOptions{Source: builtID, Target: buildTag}); err != nil {
		return "", fmt.Errorf("docker build: tag %s: %w", buildTag, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = d.Client.ImageRemove(cctx, buildTag, client.ImageRemoveOptions{})
	}()

	if d.beforeRelease != nil {
		d.beforeRelease(builtID)
	}
	if err := d.release(ctx, app, builtID, image); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	releasedID = d.imageID(ctx, image)
	if releasedID == "" {
		return "", fmt.Errorf("docker build: %s missing after the release step", image)
	}
	if d.Store != nil {
		if err := appjson.Stage(d.Store, app, releasedID, in.appJSON); err != nil {
			return releasedID, fmt.Errorf("record app.json: %w", err)
		}
		if err := d.setDetectedPorts(ctx, app, image, in.dfData); err != nil {
			return releasedID, fmt.Errorf("record detected ports: %w", err)
		}
	}
	return releasedID, nil
}

// release is builder-release: FROM the built image, with Dokku's labels,
// tagged as image. Its output is shown only when it fails.
func (d *DockerBuilder) release(ctx context.Context, app, builtID, image string) error {
	ctxTar, err := singleFileTar("Dockerfile", []byte(ReleaseDockerfile(app)))
	if err != nil {
		return err
	}
	res, err := d.Client.ImageBuild(ctx, bytes.NewReader(ctxTar), client.ImageBuildOptions{
		Tags:        []string{image},
		BuildArgs:   map[string]*string{"APP_IMAGE": &builtID},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return output.Userf("Failure injecting docker labels on image: %v", err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	if _, err := streamBuild(res.Body, &out); err != nil {
		return output.Userf("Failure injecting docker labels on image: %v\n%s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// imageID returns the ID of ref, "" when it does not exist.
func (d *DockerBuilder) imageID(ctx context.Context, ref string) string {
	res, err := d.Client.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	return res.ID
}

// restoreTag points image at prevID again ("" = remove the tag).
func (d *DockerBuilder) restoreTag(ctx context.Context, image, prevID string) {
	cur := d.imageID(ctx, image)
	if cur == prevID {
		return
	}
	if prevID != "" {
		_, _ = d.Client.ImageTag(ctx, client.ImageTagOptions{Source: prevID, Target: image})
		return
	}
	if cur != "" {
		_, _ = d.Client.ImageRemove(ctx, image, client.ImageRemoveOptions{PruneChildren: true})
	}
}

// streamBuild copies the daemon's build messages to out, whole lines as
// they arrive, and returns the built image's ID (the aux message). An error
// message in the stream is returned as the error.
func streamBuild(r io.Reader, out io.Writer) (id string, err error) {
	lw := &lineWriter{w: out}
	defer lw.Flush()
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return id, nil
		} else if err != nil {
			return id, fmt.Errorf("docker build: reading the build output: %w", err)
		}
		if m.Error != nil {
			lw.Flush()
			// the build's own failure (a step's exit code): the client's
			msg := strings.TrimSpace(m.Error.Message)
			if msg == "" {
				msg = "Docker build failed without a message"
			}
			return id, output.Userf("%s", msg)
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
		switch {
		case m.Stream != "":
			_, _ = io.WriteString(lw, m.Stream)
		case m.Status != "":
			line := m.Status
			if m.ID != "" {
				line = m.ID + ": " + line
			}
			lw.Flush()
			_, _ = io.WriteString(lw, line+"\n")
		}
	}
}

// lineWriter passes whole lines to w, one write per line.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		_, _ = l.w.Write(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
}

// Flush writes a pending partial line, ended with a newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		_, _ = l.w.Write(append(l.buf, '\n'))
		l.buf = nil
	}
}

func singleFileTar(name string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeContext writes the tree as a tar stream to w, without the paths
// .dockerignore excludes (the docker CLI does this before sending a
// context; the daemon does not). The Dockerfile and .dockerignore are
// always sent, as the CLI does.
func writeContext(ctx context.Context, src GitSource, w io.Writer, dockerfile string, dockerignore []byte) error {
	ign, err := parseDockerignore(dockerignore)
	if err != nil {
		return err
	}
	if ign == nil {
		return src.Archive(ctx, w)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := src.Archive(ctx, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	ferr := filterTar(pr, w, func(name string) bool {
		name = strings.TrimSuffix(name, "/")
		if name == dockerfile || name == ".dockerignore" {
			return true
		}
		return !ign.excluded(name)
	})
	pr.CloseWithError(io.ErrClosedPipe)
	if aerr := <-done; aerr != nil && !errors.Is(aerr, io.ErrClosedPipe) {
		return aerr
	}
	return ferr
}

func filterTar(r io.Reader, w io.Writer, keep func(name string) bool) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader || !keep(h.Name) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// dockerignore holds .dockerignore's patterns in order; the last one that
// matches a path (or one of its parent directories) decides.
type dockerignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(data []byte) (*dockerignore, error) {
	if data == nil {
		return nil, nil
	}
	d := &dockerignore{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		if neg {
			line = strings.TrimSpace(line[1:])
		}
		line = strings.TrimPrefix(path.Clean("/"+line), "/")
		if line == "" {
			continue
		}
		re, err := ignorePattern(line)
		if err != nil {
			return nil, output.Userf("Invalid .dockerignore pattern %q: %v", line, err)
		}
		d.rules = append(d.rules, ignoreRule{re: re, negate: neg})
	}
	if len(d.rules) == 0 {
		return nil, nil
	}
	return d, nil
}

// ignorePattern translates a .dockerignore pattern (filepath.Match syntax
// plus "**" for any number of directories) into a regular expression.
func ignorePattern(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
				b.WriteString("(.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, errors.New("unterminated [")
			}
			class := p[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// excluded reports whether name (a path in the tree, no leading slash) is
// left out of the build context.
func (d *dockerignore) excluded(name string) bool {
	ex := false
	for _, r := range d.rules {
		if matchOrParent(r.re, name) {
			ex = !r.negate
		}
	}
	return ex
}

func matchOrParent(re *regexp.Regexp, name string) bool {
	for p := name; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

// setDetectedPorts records the port map Dokku derives from the Dockerfile
// (ports-set-detected): one http:P:P per EXPOSE line (https for 443,
// udp:P:P for udp), else the image's exposed ports, else
// schedulers.DefaultPortMap. Stored as the ports plugin's map-detected
// property, one mapping per line, sorted.
func (d *DockerBuilder) setDetectedPorts(ctx context.Context, app, image string, dockerfile []byte) error {
	var ports []string
	for _, line := range strings.Split(strings.ReplaceAll(string(dockerfile), "\r\n", "\n"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(line, "EXPOSE ") {
			ports = append(ports, f[1])
		}
	}
	if len(ports) == 0 {
		if res, err := d.Client.ImageInspect(ctx, image); err == nil && res.Config != nil {
			for p := range res.Config.ExposedPorts {
				ports = append(ports, p)
			}
		}
	}
	seen := map[string]bool{}
	var maps []string
	for _, p := range ports {
		var m string
		switch {
		case strings.Contains(p, "udp"):
			n := strings.TrimSuffix(p, "/udp")
			m = "udp:" + n + ":" + n
		default:
			n := strings.TrimSuffix(p, "/tcp")
			if _, err := strconv.Atoi(n); err != nil {
				continue // a variable ($PORT) or garbage: Dokku would write an invalid map
			}
			scheme := "http"
			if n == "443" {
				scheme = "https"
			}
			m = scheme + ":" + n + ":" + n
		}
		if !seen[m] {
			seen[m] = true
			maps = append(maps, m)
		}
	}
	if len(maps) == 0 {
		m, err := schedulers.DefaultPortMap(d.Store, app)
		if err != nil {
			return err
		}
		maps = []string{m}
	}
	sort.Strings(maps)
	return d.Store.SetProperty("ports", app, "map-detected", strings.Join(maps, "\n")+"\n")
}
