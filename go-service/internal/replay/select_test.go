package replay

import (
	"reflect"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

var (
	t0     = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	stripe = deadletter.Info{Code: "unsupported_event", Gateway: "stripe", Topic: "payments.raw.stripe", Partition: 1, Offset: 9}
)

func TestFilterMatch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		f         Filter
		partition int32
		offset    int64
		ts        time.Time
		info      deadletter.Info
		want      bool
	}{
		{"empty filter takes all", Filter{}, 0, 0, t0, stripe, true},
		{"code listed", Filter{Codes: []string{"missing_field", "unsupported_event"}}, 0, 0, t0, stripe, true},
		{"code not listed", Filter{Codes: []string{"missing_field"}}, 0, 0, t0, stripe, false},
		{"gateway listed", Filter{Gateways: []string{"stripe"}}, 0, 0, t0, stripe, true},
		{"gateway not listed", Filter{Gateways: []string{"adyen"}}, 0, 0, t0, stripe, false},
		{"since is inclusive", Filter{Since: t0}, 0, 0, t0, stripe, true},
		{"before since", Filter{Since: t0}, 0, 0, t0.Add(-time.Millisecond), stripe, false},
		{"until is exclusive", Filter{Until: t0}, 0, 0, t0, stripe, false},
		{"before until", Filter{Until: t0}, 0, 0, t0.Add(-time.Millisecond), stripe, true},
		{"offset in range", Filter{Offsets: []OffsetRange{{1, 5, 9}}}, 1, 9, t0, stripe, true},
		{"offset after range", Filter{Offsets: []OffsetRange{{1, 5, 9}}}, 1, 10, t0, stripe, false},
		{"other partition", Filter{Offsets: []OffsetRange{{1, 5, 9}}}, 2, 7, t0, stripe, false},
		{"open range", Filter{Offsets: []OffsetRange{{1, 5, -1}}}, 1, 1 << 40, t0, stripe, true},
		{"second range", Filter{Offsets: []OffsetRange{{0, 0, 0}, {2, 3, 4}}}, 2, 4, t0, stripe, true},
		{"all must hold", Filter{Codes: []string{"unsupported_event"}, Gateways: []string{"razorpay"}}, 0, 0, t0, stripe, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(tc.partition, tc.offset, tc.ts, tc.info); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func hdr(k, v string) ckafka.Header { return ckafka.Header{Key: k, Value: []byte(v)} }

func TestSkipReason(t *testing.T) {
	const coord = "payments.dlq/0/3"
	cameBack := []ckafka.Header{hdr("gateway", "stripe"), hdr("replayed_from", "payments.dlq/0/1")}
	done := map[string]bool{coord: true}
	for _, tc := range []struct {
		name     string
		info     deadletter.Info
		raw      []ckafka.Header
		replayed map[string]bool
		force    bool
		want     string
	}{
		{"fresh", stripe, nil, nil, false, ""},
		{"in the replay log", stripe, nil, done, false, SkipAlreadyReplayed},
		{"came back", stripe, cameBack, nil, false, SkipCameBack},
		{"force: replay log", stripe, nil, done, true, ""},
		{"force: came back", stripe, cameBack, done, true, ""},
		{"no source topic", deadletter.Info{Code: "x"}, nil, nil, true, SkipNoSource},
		{"truncated", deadletter.Info{Topic: "t", Truncated: true}, nil, nil, true, SkipTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SkipReason(coord, tc.info, tc.raw, tc.replayed, tc.force); got != tc.want {
				t.Errorf("SkipReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRawHeadersReplaceReplayedFrom(t *testing.T) {
	got := RawHeaders([]ckafka.Header{hdr("gateway", "stripe"), hdr("replayed_from", "payments.dlq/0/1"), hdr("x", "y")}, "payments.dlq/2/8")
	want := []ckafka.Header{hdr("gateway", "stripe"), hdr("x", "y"), hdr("replayed_from", "payments.dlq/2/8")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RawHeaders = %v, want %v", got, want)
	}
}

func TestParseOffsets(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []OffsetRange
		wantErr string
	}{
		{"", nil, ""},
		{"0:100-250", []OffsetRange{{0, 100, 250}}, ""},
		{"0:100-", []OffsetRange{{0, 100, -1}}, ""},
		{"2:-50", []OffsetRange{{2, 0, 50}}, ""},
		{"1:7", []OffsetRange{{1, 7, 7}}, ""},
		{"1:-", []OffsetRange{{1, 0, -1}}, ""},
		{" 0:1-2 , 3:4-5 ", []OffsetRange{{0, 1, 2}, {3, 4, 5}}, ""},
		{"1:20-10", nil, `-offsets "1:20-10": the range ends (10) before it starts (20)`},
		{"100-200", nil, "want PARTITION:FROM-TO"},
		{"x:1-2", nil, `partition "x" is not a whole number`},
		{"-1:1-2", nil, `partition "-1" is not a whole number`},
		{"0:a-2", nil, `offset "a" is not a whole number`},
		{"0:", nil, "want PARTITION:FROM-TO"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOffsets(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseOffsets(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseOffsets(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParseOffsets(f *testing.F) {
	for _, s := range []string{"0:100-250", "1:7", "2:-", "1:20-10", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ranges, err := ParseOffsets(s)
		if err != nil {
			return
		}
		for _, r := range ranges {
			if r.Partition < 0 || r.From < 0 || (r.To >= 0 && r.To < r.From) || r.To < -1 {
				t.Errorf("ParseOffsets(%q) gave an impossible range %+v", s, r)
			}
		}
	})
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"2026-12-05T12:00:00Z", t0, true},
		{"2026-12-05T13:00:00+01:00", t0, true},
		{"2026-12-05", t0.Add(-12 * time.Hour), true},
		{"yesterday", time.Time{}, false},
		{"2026-12-05 12:00", time.Time{}, false},
	} {
		got, err := ParseTime("since", tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), `-since "`) {
			t.Errorf("ParseTime error %q does not name the flag", err)
		}
	}
}

func TestNarrow(t *testing.T) {
	ends := map[int32][2]int64{0: {0, 10}, 1: {5, 20}, 2: {0, 3}}
	for _, tc := range []struct {
		name   string
		ranges []OffsetRange
		want   map[int32][2]int64
	}{
		{"no ranges", nil, ends},
		{"inside", []OffsetRange{{0, 2, 4}}, map[int32][2]int64{0: {2, 5}}},
		{"clipped to the log", []OffsetRange{{1, 0, 100}}, map[int32][2]int64{1: {5, 20}}},
		{"open end", []OffsetRange{{1, 7, -1}}, map[int32][2]int64{1: {7, 20}}},
		{"past the end", []OffsetRange{{2, 3, -1}}, map[int32][2]int64{}},
		{"two ranges, one span", []OffsetRange{{0, 1, 1}, {0, 8, 8}}, map[int32][2]int64{0: {1, 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := narrow(ends, tc.ranges); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("narrow = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPredict(t *testing.T) {
	gen, err := synthetic.New(synthetic.Options{Seed: 5, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := gen.Next()
	if err != nil {
		t.Fatal(err)
	}
	raw := []ckafka.Header{hdr("gateway", "stripe")}
	if p := Predict(rec.Value, stripe, raw); p.Outcome != OutcomePayment || !strings.Contains(p.Detail, rec.Payment.ID) {
		t.Errorf("Predict(valid stripe) = %+v, want a payment %s", p, rec.Payment.ID)
	}
	if p := Predict([]byte("not json"), stripe, raw); p.Outcome != "malformed_json" {
		t.Errorf("Predict(not json) = %+v, want malformed_json", p)
	}
	ignored := []byte(`{"id":"evt_1","type":"customer.created","created":1700000000,"data":{"object":{"id":"cus_1"}}}`)
	if p := Predict(ignored, stripe, raw); p.Outcome != OutcomeIgnored {
		t.Errorf("Predict(customer.created) = %+v, want ignored", p)
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Read: 9, Chosen: 5, Replayed: 3, Skipped: map[string]int{SkipCameBack: 1, SkipAlreadyReplayed: 1}}
	want := "read 9, chosen 5, replayed 3, failed 0, skipped 2 (already_replayed 1, came_back_after_replay 1)"
	if got := s.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	d := Summary{Read: 4, Chosen: 3, Skipped: map[string]int{}, Outcomes: map[string]int{OutcomePayment: 2, "invalid_amount": 1}}
	want = "read 4, chosen 3, would replay 3 (invalid_amount 1, payment 2), skipped 0 (dry run: nothing written)"
	if got := d.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-12-05", "2026-12-05T12:00:00Z", "2026-12-05T13:00:00.5+01:00", "yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime("since", s)
		if err == nil && strings.TrimSpace(s) != "" && got.IsZero() {
			t.Errorf("ParseTime(%q) accepted it as no bound", s)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseTime(%q) error is more than one line: %q", s, err)
		}
	})
}
