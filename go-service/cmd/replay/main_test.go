package main

import (
	"strings"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/replay"
)

func TestParse(t *testing.T) {
	t.Setenv("ENV_FILE", "/nonexistent")
	t.Setenv("KAFKA_DLQ_TOPIC", "")
	t.Setenv("REPLAY_LOG_TOPIC", "")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, s settings)
	}{
		{name: "nothing chosen", args: nil, wantErr: "choose dead letters with -code"},
		{name: "all", args: []string{"-all"}, check: func(t *testing.T, s settings) {
			if !s.opts.Filter.Empty() || s.opts.DLQTopic != "payments.dlq" || s.opts.LogTopic != "payments.dlq.replayed" || s.opts.IdleTimeout != 30*time.Second {
				t.Errorf("settings = %+v", s.opts)
			}
		}},
		{name: "every choice", args: []string{"-code", "unsupported_event,missing_field", "-gateway", "Stripe", "-since", "2026-12-01", "-until", "2026-12-05T10:00:00Z",
			"-offsets", "0:5-9", "-dlq-topic", "x.dlq", "-dry-run", "-force", "-read-timeout", "5"}, check: func(t *testing.T, s settings) {
			f := s.opts.Filter
			if strings.Join(f.Codes, ",") != "unsupported_event,missing_field" || strings.Join(f.Gateways, ",") != "stripe" ||
				!f.Since.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !f.Until.Equal(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)) ||
				len(f.Offsets) != 1 || f.Offsets[0] != (replay.OffsetRange{Partition: 0, From: 5, To: 9}) {
				t.Errorf("filter = %+v", f)
			}
			if !s.opts.DryRun || !s.opts.Force || s.opts.LogTopic != "x.dlq.replayed" || s.opts.IdleTimeout != 5*time.Second {
				t.Errorf("settings = %+v", s.opts)
			}
		}},
		{name: "bad time", args: []string{"-since", "last week"}, wantErr: `-since "last week": want an RFC 3339 time`},
		{name: "until before since", args: []string{"-since", "2026-12-05", "-until", "2026-12-04"}, wantErr: "-until 2026-12-04 is not after -since 2026-12-05"},
		{name: "bad offset range", args: []string{"-offsets", "0:9-5"}, wantErr: `-offsets "0:9-5": the range ends (5) before it starts (9)`},
		{name: "unknown gateway", args: []string{"-gateway", "bitcoinpay"}, wantErr: `-gateway: "bitcoinpay" is not a gateway`},
		{name: "read timeout out of range", args: []string{"-all", "-read-timeout", "0"}, wantErr: "-read-timeout 0: want a whole number from 1"},
		{name: "stray argument", args: []string{"-all", "now"}, wantErr: `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("parse(%q) error = %v, want one line containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.args, err)
			}
			tc.check(t, s)
		})
	}
}
