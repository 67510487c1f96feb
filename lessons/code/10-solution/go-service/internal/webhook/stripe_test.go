package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifyStripe(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1767225600, 0)
	good := SignStripe(body, "whsec_test", now)
	other := SignStripe(body, "whsec_other", now)
	tests := []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"signed now", good, body, true},
		{"the old secret's signature next to the new one", other + "," + strings.Split(good, ",")[1], body, true},
		{"another secret", other, body, false},
		{"one byte changed", good, []byte(`{"id":"evt_2"}`), false},
		{"too old", SignStripe(body, "whsec_test", now.Add(-StripeTolerance-time.Second)), body, false},
		{"no header", "", body, false},
		{"no v1", "t=1767225600", body, false},
	}
	for _, tt := range tests {
		err := VerifyStripe(tt.header, tt.body, "whsec_test", now, StripeTolerance)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", tt.name, err)
		}
	}
}
