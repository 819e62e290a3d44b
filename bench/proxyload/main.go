// Command proxyload sends GET requests one after the other to a loopback
// address with a given Host header, until SIGINT/SIGTERM, -max requests or
// -max-duration, and prints how many failed (by reason) and the latency
// percentiles as a Markdown table, then the bodies of the 200 answers. bench/proxy.sh runs it across redeploys.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"dokku-sshd/internal/httpload"
)

func main() {
	var o httpload.Options
	var want string
	flag.StringVar(&o.URL, "url", "", "URL to GET (http://127.0.0.1:PORT/)")
	flag.StringVar(&o.Host, "host", "", "Host header")
	flag.StringVar(&o.WantPrefix, "want-prefix", "", "a 200 body must start with this (or be one of -want)")
	flag.StringVar(&want, "want", "", "comma-separated bodies a 200 answer may have")
	flag.IntVar(&o.Max, "max", 200000, "stop after this many requests")
	flag.DurationVar(&o.MaxDuration, "max-duration", 10*time.Minute, "stop after this long")
	flag.Parse()
	if want != "" {
		o.Want = strings.Split(want, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := httpload.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(2)
	}
	if err := r.WriteTable(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
	for _, b := range slices.Sorted(maps.Keys(r.Bodies)) {
		fmt.Printf("body %q: %d\n", b, r.Bodies[b])
	}
	fmt.Fprintf(os.Stderr, "proxyload: stopped: %s\n", r.Stopped)
}
