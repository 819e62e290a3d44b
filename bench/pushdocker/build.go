package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// contextTar is files as a build context (a tar stream, names sorted).
func contextTar(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// classicBuild builds the context tarball with the options dokku-sshd
// uses (classic builder, intermediate containers removed) and returns the
// image id and when the first step began.
func classicBuild(ctx context.Context, cli *client.Client, tarball []byte, o client.ImageBuildOptions) (string, time.Time, error) {
	o.Remove, o.ForceRemove, o.Version = true, true, build.BuilderV1
	res, err := cli.ImageBuild(ctx, bytes.NewReader(tarball), o)
	if err != nil {
		return "", time.Time{}, err
	}
	defer res.Body.Close()
	return buildStream(res.Body)
}

// buildStream reads a build's JSON messages; it returns the built image's
// ID and the time of the first "Step" line (zero when none).
func buildStream(r io.Reader) (id string, firstStep time.Time, err error) {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return id, firstStep, nil
		} else if err != nil {
			return id, firstStep, err
		}
		if m.Error != nil {
			return id, firstStep, errors.New(strings.TrimSpace(m.Error.Message))
		}
		if firstStep.IsZero() && strings.HasPrefix(m.Stream, "Step ") {
			firstStep = time.Now()
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
}
