// Package dockertest gives tests a real Docker daemon and a base image that
// is built on this machine (no registry is reachable): a BusyBox root
// filesystem imported through the Engine API.
//
// Tests that need Docker call Require, which skips when no daemon answers
// and fails instead when CI=true. Everything a test creates carries the
// label Label=1 so that leftovers of a crashed run can be found:
//
//	docker ps -a --filter label=dokku-sshd-test=1
//	docker images --filter label=dokku-sshd-test=1
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/testenv"
)

// Label marks every container and image a test creates.
const Label = "dokku-sshd-test"

// BaseImage is the BusyBox image tests build FROM. It is imported once and
// kept between runs, like a pulled base image would be.
const BaseImage = "dokku-sshd-test/busybox:latest"

// BusyBoxPath is where Debian's busybox-static puts the binary.
const BusyBoxPath = "/bin/busybox"

// Require returns a client of the local Docker daemon (DOCKER_HOST or
// /var/run/docker.sock). It skips the test when no daemon answers, and fails
// it when CI=true.
func Require(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		testenv.SkipOrFail(t, "docker: no client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		testenv.SkipOrFail(t, "docker daemon not reachable (start dockerd, or set DOCKER_HOST): %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var (
	baseMu    sync.Mutex
	baseReady bool
)

// EnsureBaseImage makes sure BaseImage exists, importing it when it does
// not, and returns its name. BusyBox comes from Debian's busybox-static
// package, installed with apt-get when missing and running as root.
func EnsureBaseImage(t testing.TB, cli *client.Client) string {
	t.Helper()
	baseMu.Lock()
	defer baseMu.Unlock()
	if baseReady {
		return BaseImage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, BaseImage); err == nil {
		baseReady = true
		return BaseImage
	}
	bin, err := busybox(ctx)
	if err != nil {
		testenv.SkipOrFail(t, "busybox-static is needed for the test base image: %v", err)
	}
	rootfs, err := RootFS(ctx, bin)
	if err != nil {
		t.Fatalf("base image root filesystem: %v", err)
	}
	if err := ImportImage(ctx, cli, bytes.NewReader(rootfs), BaseImage); err != nil {
		t.Fatalf("import %s: %v", BaseImage, err)
	}
	baseReady = true
	return BaseImage
}

// busybox returns the path of a static BusyBox, installing
// busybox-static when it is missing and this process is root.
func busybox(ctx context.Context) (string, error) {
	if fi, err := os.Stat(BusyBoxPath); err == nil && !fi.IsDir() {
		return BusyBoxPath, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s is missing (apt-get install -y busybox-static, as root)", BusyBoxPath)
	}
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", "busybox-static")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install busybox-static: %v: %s", err, lastLines(out, 5))
		}
		return nil
	}
	if err := install(); err != nil {
		// The package lists may be missing or stale.
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("%v; apt-get update: %v: %s", err, uerr, lastLines(out, 5))
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(BusyBoxPath); err != nil {
		return "", fmt.Errorf("busybox-static installed but %s is missing", BusyBoxPath)
	}
	return BusyBoxPath, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RootFS returns a tar archive of a minimal root filesystem: the BusyBox
// binary at bin/busybox, one symlink per applet where `busybox
// --list-full` puts it, /tmp, /etc/passwd and /etc/group.
func RootFS(ctx context.Context, busyboxBin string) ([]byte, error) {
	bin, err := os.ReadFile(busyboxBin)
	if err != nil {
		return nil, err
	}
	list, err := exec.CommandContext(ctx, busyboxBin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list-full: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var", "var/www", "dev", "proc", "sys"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		applet = strings.TrimPrefix(path.Clean("/"+applet), "/")
		if applet == "bin/busybox" || applet == "" {
			continue
		}
		if d := path.Dir(applet); !dirs[d] {
			// Only the standard directories above; --list-full names no others.
			if err := dir(d, 0o755); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ImportImage imports a root filesystem tar as ref, labelled Label=1, with
// a PATH and /bin/sh as its command.
func ImportImage(ctx context.Context, cli *client.Client, rootfs io.Reader, ref string) error {
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{
		Changes: []string{
			"LABEL " + Label + "=1",
			"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			`CMD ["/bin/sh"]`,
		},
		Message: "dokku-sshd test base image (BusyBox)",
	})
	if err != nil {
		return err
	}
	defer res.Close()
	return drain(res)
}

// drain reads a JSON message stream and returns its first error.
func drain(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
	}
}

// Name returns a name unique to this run, for apps, containers and tags:
// prefix-<8 hex>.
func Name(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// CleanupApp removes, when the test ends, every container labelled
// com.dokku.app-name=app and every image of the dokku/<app> repository or
// labelled com.dokku.app-name=app, whatever the test did or failed to do.
func CleanupApp(t testing.TB, cli *client.Client, app string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := RemoveApp(ctx, cli, app); err != nil {
			t.Logf("cleanup of %s: %v", app, err)
		}
	})
}

// RemoveApp force-removes app's containers and images.
func RemoveApp(ctx context.Context, cli *client.Client, app string) error {
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.dokku.app-name="+app)})
	if err != nil {
		return err
	}
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []client.Filters{
		make(client.Filters).Add("reference", "dokku/"+app),
		make(client.Filters).Add("label", "com.dokku.app-name="+app),
	} {
		imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, im := range imgs.Items {
			if _, err := cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// Leftovers lists the containers and images of app that still exist.
func Leftovers(ctx context.Context, cli *client.Client, app string) ([]string, error) {
	var out []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.dokku.app-name="+app)})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	for _, f := range []client.Filters{
		make(client.Filters).Add("reference", "dokku/"+app),
		make(client.Filters).Add("label", "com.dokku.app-name="+app),
	} {
		imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
		if err != nil {
			return nil, err
		}
		for _, im := range imgs.Items {
			out = append(out, "image "+im.ID+" "+strings.Join(im.RepoTags, ","))
		}
	}
	return out, nil
}
