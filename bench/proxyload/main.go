// Command proxyload sends GET requests one after the other to a loopback
// address with a given Host header, until SIGINT/SIGTERM or -max requests,
// and prints how many failed (an error or a status other than 200) and the
// latency percentiles. bench/proxy.sh runs it across redeploys.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to GET (http://127.0.0.1:PORT/)")
	host := flag.String("host", "", "Host header")
	want := flag.String("want-prefix", "", "a 200 body must start with this")
	maxReq := flag.Int("max", 200000, "stop after this many requests")
	maxDur := flag.Duration("max-duration", 10*time.Minute, "stop after this long")
	flag.Parse()
	if !strings.HasPrefix(*url, "http://127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "proxyload: -url must be http://127.0.0.1:PORT/ (loopback only)")
		os.Exit(2)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var lat []time.Duration
	failed := map[string]int{}
	deadline := time.Now().Add(*maxDur)
loop:
	for i := 0; i < *maxReq && time.Now().Before(deadline); i++ {
		select {
		case <-stop:
			break loop
		default:
		}
		req, _ := http.NewRequest("GET", *url, nil)
		req.Host = *host
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			failed["error"]++
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		switch {
		case resp.StatusCode != 200:
			failed[fmt.Sprintf("status %d", resp.StatusCode)]++
		case !strings.HasPrefix(string(body), *want):
			failed["unexpected body"]++
		default:
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) string {
		if len(lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())/1000)
	}
	total := len(lat)
	nfail := 0
	for _, n := range failed {
		nfail += n
		total += n
	}
	fmt.Printf("| requests | failed | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %s | %s | %s | %s |\n", total, nfail, pct(0.5), pct(0.9), pct(0.99), pct(1))
	for k, n := range failed {
		fmt.Printf("failed: %s: %d\n", k, n)
	}
}
