package kafka

import (
	"runtime"
	"testing"
)

func TestSpareProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cores := defaultProcs
	tests := []struct {
		env     string
		pollers int
		want    int
	}{
		{pollers: 0, want: cores},
		{pollers: 1, want: cores + 1},
		{pollers: 1000, want: 4 * cores},
		{env: "1", pollers: 7, want: cores}, // the environment wins: left as it is
	}
	for _, tt := range tests {
		t.Setenv("GOMAXPROCS", tt.env)
		runtime.GOMAXPROCS(cores)
		if got := SpareProcs(tt.pollers); got != tt.want || runtime.GOMAXPROCS(0) != tt.want {
			t.Errorf("GOMAXPROCS=%q SpareProcs(%d) = %d (runtime %d); want %d", tt.env, tt.pollers, got, runtime.GOMAXPROCS(0), tt.want)
		}
	}
}
