package check

import (
	"os"
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's setting without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestUseGC(t *testing.T) {
	tests := []struct {
		name   string
		gogc   string // "" for unset
		before int
		want   int
	}{
		{name: "without GOGC a check collects at GCPercent", before: 100, want: GCPercent},
		{name: "a GOGC in the environment is left to rule", gogc: "50", before: 50, want: 50},
		{name: "GOGC=off in the environment is left to rule", gogc: "off", before: -1, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc) // restored after the test
			if tt.gogc == "" {
				os.Unsetenv("GOGC")
			}
			defer debug.SetGCPercent(debug.SetGCPercent(tt.before))
			restore := UseGC()
			if got := gcPercent(); got != tt.want {
				t.Errorf("GOGC during a check = %d, want %d", got, tt.want)
			}
			restore()
			if got := gcPercent(); got != tt.before {
				t.Errorf("GOGC after a check = %d, want %d as before it", got, tt.before)
			}
		})
	}
}
