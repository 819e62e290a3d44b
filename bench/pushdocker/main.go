// Command pushdocker is the direct baseline of bench/push-docker.sh: it
// deploys a small Dockerfile app with the Docker Engine API operations
// dokku-sshd's dockerfile builder and docker-local scheduler perform, called
// directly, and times each phase. Driven by the script, it also times
// `git push` to a running dokku-sshd, interleaved with the direct deploys,
// and prints the comparison. See bench/README-push-docker.md.
//
//	go run ./bench/pushdocker [direct] [-runs 5]   direct baseline only (first deploy + redeploys)
//	go run ./bench/pushdocker base                 import the BusyBox base image when missing
//	go run ./bench/pushdocker bench -url ... -data DIR -pid PID ...   (bench/push-docker.sh)
//	go run ./bench/pushdocker cleanup -prefix P    remove the containers and images of apps named P*
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// webPort is the PORT Dokku gives a Dockerfile app without EXPOSE
// (ports map-detected http:80:5000).
const webPort = "5000"

// dockerfile is the app: BusyBox httpd serving /www on $PORT.
func dockerfile(base string) string {
	return "FROM " + base + "\n" +
		"COPY index.html /www/index.html\n" +
		`CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]` + "\n"
}

func indexHTML(marker string) string {
	return "<!doctype html><title>push-docker bench</title><p>" + marker + "</p>\n"
}

func main() {
	args := os.Args[1:]
	cmd := "direct"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "direct":
		err = cmdDirect(args)
	case "base":
		err = cmdBase(args)
	case "bench":
		err = cmdBench(args)
	case "cleanup":
		err = cmdCleanup(args)
	default:
		err = fmt.Errorf("unknown command %q (direct, base, bench, cleanup)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushdocker:", err)
		os.Exit(1)
	}
}

func newClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker daemon not reachable: %w", err)
	}
	return cli, nil
}

// withClient runs f with a Docker client and a context that ends after
// limit.
func withClient(limit time.Duration, f func(ctx context.Context, cli *client.Client) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return f(ctx, cli)
}

func newNonce() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
