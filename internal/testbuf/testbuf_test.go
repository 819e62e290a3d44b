package testbuf

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	tests := []struct {
		name    string
		writers int
		lines   int
	}{
		{"empty", 0, 0},
		{"one writer", 1, 50},
		{"writers and a reader at once", 8, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Buffer
			var wg sync.WaitGroup
			done := make(chan struct{})
			go func() { // a reader while the writers write (the race detector watches)
				defer close(done)
				for range 100 {
					_ = b.String()
				}
			}()
			for w := range tt.writers {
				wg.Go(func() {
					for i := range tt.lines {
						if _, err := io.WriteString(&b, fmt.Sprintf("w%d l%d\n", w, i)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			<-done
			got := b.String()
			if n := strings.Count(got, "\n"); n != tt.writers*tt.lines {
				t.Errorf("%d lines, want %d", n, tt.writers*tt.lines)
			}
			for w := range tt.writers {
				if last := fmt.Sprintf("w%d l%d\n", w, tt.lines-1); !strings.Contains(got, last) {
					t.Errorf("line %q missing", last)
				}
			}
		})
	}
}
