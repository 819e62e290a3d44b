package dockeropts

import (
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// ImageBuild is what build-phase options set on an image build, in the
// Engine API's terms (client.ImageBuildOptions' fields of the same names).
type ImageBuild struct {
	BuildArgs    map[string]*string
	Labels       map[string]string
	ExtraHosts   []string
	CacheFrom    []string
	Tags         []string
	CgroupParent string
	NetworkMode  string
	Target       string
	Memory       int64
	MemorySwap   int64
	ShmSize      int64
	Ulimits      []*units.Ulimit
	NoCache      bool
}

// buildKitOnly are the build options of Dokku's dockerfile builder that
// only BuildKit (buildx) takes; this server builds with the Engine API's
// own builder.
var buildKitOnly = []string{"allow", "annotation", "attest", "builder", "cache-to", "call", "check",
	"debug", "platform", "progress", "provenance", "sbom", "secret", "ssh"}

// ParseBuild parses the words of a build-phase option list as Dokku's
// dockerfile builder reads them: the image-build options it passes on
// are used, every other option (and its value) is ignored, as Dokku
// ignores it. A --build-arg NAME without a value takes the value of the
// app's config variable NAME, when it has one (env), as a build run with
// the app's config exported does.
func ParseBuild(words []string, env map[string]string) (*ImageBuild, error) {
	fs := pflag.NewFlagSet("docker-options", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	var (
		args, labels, hosts, cacheFrom, tags []string
		b                                    ImageBuild
		memory, shm                          memBytes
		swap                                 memSwap
		ul                                   ulimits
	)
	fs.StringArrayVar(&args, "build-arg", nil, "")
	fs.StringArrayVar(&labels, "label", nil, "")
	fs.StringArrayVar(&hosts, "add-host", nil, "")
	fs.StringArrayVar(&cacheFrom, "cache-from", nil, "")
	fs.StringArrayVar(&tags, "tag", nil, "")
	fs.StringVar(&b.CgroupParent, "cgroup-parent", "", "")
	fs.StringVar(&b.NetworkMode, "network", "", "")
	fs.StringVar(&b.Target, "target", "", "")
	fs.VarP(&memory, "memory", "m", "")
	fs.Var(&swap, "memory-swap", "")
	fs.Var(&shm, "shm-size", "")
	fs.Var(&ul, "ulimit", "")
	fs.BoolVar(&b.NoCache, "no-cache", false, "")
	var unsupported []string
	for _, n := range buildKitOnly {
		if n == "debug" {
			fs.BoolP(n, "D", false, "")
		} else if n == "check" {
			fs.Bool(n, false, "")
		} else {
			fs.StringArray(n, nil, "")
		}
	}
	if err := fs.Parse(words); err != nil {
		return nil, err
	}
	fs.Visit(func(f *pflag.Flag) {
		for _, n := range buildKitOnly {
			if f.Name == n {
				unsupported = append(unsupported, "--"+n)
			}
		}
	})
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("docker option %s needs BuildKit, and this server builds with the Docker Engine's own builder", strings.Join(unsupported, ", "))
	}
	b.Memory, b.MemorySwap, b.ShmSize, b.Ulimits = int64(memory), int64(swap), int64(shm), ul
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"--build-arg\" flag: empty name", a)
		}
		if b.BuildArgs == nil {
			b.BuildArgs = map[string]*string{}
		}
		switch {
		case ok:
			b.BuildArgs[k] = &v
		case env != nil && hasKey(env, k):
			ev := env[k]
			b.BuildArgs[k] = &ev
		default:
			b.BuildArgs[k] = nil
		}
	}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid label '%s': empty name", l)
		}
		if b.Labels == nil {
			b.Labels = map[string]string{}
		}
		b.Labels[k] = v
	}
	for _, h := range hosts {
		v, err := extraHost(h)
		if err != nil {
			return nil, err
		}
		b.ExtraHosts = append(b.ExtraHosts, v)
	}
	b.CacheFrom, b.Tags = cacheFrom, tags
	return &b, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// Check parses options (the lines SplitInput made) as the phase reads
// them, for docker-options:add: an option the phase cannot use fails now
// rather than at the next build or deploy.
func Check(phase string, options []string) error {
	var words []string
	for _, o := range options {
		w, err := Words(o)
		if err != nil {
			return err
		}
		words = append(words, w...)
	}
	if phase == Build {
		_, err := ParseBuild(words, nil)
		return err
	}
	_, err := ParseContainer(phase, words)
	return err
}
