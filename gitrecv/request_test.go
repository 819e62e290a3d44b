package gitrecv

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

const (
	zero = "0000000000000000000000000000000000000000"
	h1   = "1111111111111111111111111111111111111111"
	h2   = "2222222222222222222222222222222222222222"
)

// encode builds a request the way git send-pack writes it.
func encode(t testing.TB, lines []string, options []string, pack string) []byte {
	var b bytes.Buffer
	e := pktline.NewEncoder(&b)
	for _, l := range lines {
		if err := e.EncodeString(l); err != nil {
			t.Fatal(err)
		}
	}
	e.Flush()
	if options != nil {
		for _, o := range options {
			e.EncodeString(o)
		}
		e.Flush()
	}
	b.WriteString(pack)
	return b.Bytes()
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		cmds    int
		caps    []string
		opts    []string
		wantErr string
	}{
		{"create with caps", encode(t, []string{zero + " " + h1 + " refs/heads/main\x00report-status side-band-64k quiet agent=git/2.39\n"}, nil, "PACK"), 1, []string{"report-status", "side-band-64k", "quiet", "agent"}, nil, ""},
		{"atomic two refs", encode(t, []string{h1 + " " + h2 + " refs/heads/main\x00report-status atomic", h2 + " " + zero + " refs/heads/old"}, nil, "PACK"), 2, []string{"atomic"}, nil, ""},
		{"push options", encode(t, []string{zero + " " + h1 + " refs/heads/main\x00report-status push-options"}, []string{"ci.skip", "x=y z"}, "PACK"), 1, []string{"push-options"}, []string{"ci.skip", "x=y z"}, ""},
		{"empty", encode(t, nil, nil, ""), 0, nil, nil, "no commands"},
		{"bad hash", encode(t, []string{"xyz " + h1 + " refs/heads/main"}, nil, ""), 0, nil, nil, "malformed object id"},
		{"bad ref", encode(t, []string{zero + " " + h1 + " refs/heads/a..b"}, nil, ""), 0, nil, nil, "invalid ref name"},
		{"not under refs", encode(t, []string{zero + " " + h1 + " HEAD"}, nil, ""), 0, nil, nil, "invalid ref name"},
		{"shallow", encode(t, []string{"shallow " + h1, zero + " " + h1 + " refs/heads/main\x00report-status"}, nil, "PACK"), 1, []string{"report-status"}, nil, ""},
		{"bad shallow", encode(t, []string{"shallow xyz", zero + " " + h1 + " refs/heads/main"}, nil, ""), 0, nil, nil, "malformed shallow line"},
		{"truncated", []byte("00a0" + zero), 0, nil, nil, "read ref updates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.data)
			req, err := ReadRequest(r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(req.Commands) != tt.cmds {
				t.Fatalf("commands = %v", req.Commands)
			}
			for _, c := range tt.caps {
				if !req.Has(c) {
					t.Errorf("capability %s missing from %v", c, req.Capabilities)
				}
			}
			if strings.Join(req.PushOptions, "|") != strings.Join(tt.opts, "|") {
				t.Errorf("push options = %q, want %q", req.PushOptions, tt.opts)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != "PACK" {
				t.Errorf("pack left in the reader = %q", rest)
			}
		})
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add(encode(f, []string{zero + " " + h1 + " refs/heads/main\x00report-status push-options"}, []string{"a"}, "PACK"))
	f.Add(encode(f, []string{h1 + " " + h2 + " refs/tags/v1\x00atomic", h2 + " " + zero + " refs/heads/x"}, nil, ""))
	f.Add([]byte("0000"))
	f.Add([]byte("zzzz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(req.Commands) == 0 {
			t.Fatal("accepted a request without commands")
		}
		for _, c := range req.Commands {
			if !validRefName(c.Ref) {
				t.Fatalf("accepted invalid ref %q", c.Ref)
			}
		}
	})
}
