package dockerlocal

import (
	"context"
	"errors"
	"testing"

	"dokku-sshd/appjson"
)

func TestPoll(t *testing.T) {
	refused := errors.New("refused")
	c := check{appjson.Healthcheck{Attempts: 2, Wait: 1}} // one second of retries
	tests := []struct {
		name     string
		failures int // fn fails this many times, then succeeds (-1: always)
		cancel   bool
		want     error
	}{
		{"first try", 0, false, nil},
		{"after a few refusals", 3, false, nil},
		{"never", -1, false, refused},
		{"cancelled", -1, true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			errs := poll(ctx, c, func() error {
				calls++
				if tt.cancel {
					cancel()
				}
				if tt.failures < 0 || calls <= tt.failures {
					return refused
				}
				return nil
			})
			switch {
			case tt.want == nil && errs != nil:
				t.Fatalf("errors %v after %d calls", errs, calls)
			case tt.want != nil && (len(errs) != 1 || !errors.Is(errs[0], tt.want)):
				t.Fatalf("errors %v, want [%v]", errs, tt.want)
			case tt.failures > 0 && calls != tt.failures+1:
				t.Fatalf("%d calls", calls)
			case tt.failures < 0 && !tt.cancel && calls < 5:
				t.Fatalf("gave up after %d calls within a second", calls)
			}
		})
	}
}
