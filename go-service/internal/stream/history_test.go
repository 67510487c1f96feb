package stream

import (
	"errors"
	"testing"
	"time"
)

// Once the serve stage has stopped, its consumer is closed: a stream that
// opens in the past during shutdown gets an error, not a call on a closed
// client.
func TestLookupsAfterServeStopped(t *testing.T) {
	hist := &history{topic: "payments.normalized"}
	hist.stopLookups()
	lookups := map[string]func() error{
		"earliest": func() error { _, err := earliestOffsets(hist); return err },
		"since":    func() error { _, err := sinceOffsets(hist, time.Now()); return err },
		"cursor":   func() error { return checkNotPastEnd(hist, Position{0: 5}) },
	}
	for name, lookup := range lookups {
		if err := lookup(); !errors.Is(err, errServeStopped) {
			t.Errorf("%s: got %v, want %v", name, err, errServeStopped)
		}
	}
}
