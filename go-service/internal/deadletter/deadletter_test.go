package deadletter

import (
	"reflect"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func hdrs(kv ...string) []ckafka.Header {
	var out []ckafka.Header
	for i := 0; i < len(kv); i += 2 {
		out = append(out, ckafka.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

var sample = Info{Error: "bad amount", Code: "invalid_amount", Gateway: "stripe", Topic: "payments.raw.stripe", Partition: 2, Offset: 41}

func TestHeadersKeepRawHeadersAndRenameCollisions(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []ckafka.Header
		want []ckafka.Header
	}{
		{"no raw headers", nil, nil},
		{"own names kept", hdrs("x-trace", "t1", "received_at", "2026"), hdrs("x-trace", "t1", "received_at", "2026")},
		{"gateway header renamed", hdrs("gateway", "stripe"), hdrs("raw.gateway", "stripe")},
		{"every reserved name renamed", hdrs("error", "e", "error_code", "c", "source_topic", "s", "source_partition", "p", "source_offset", "o", "truncated", "t", "original_size", "n"),
			hdrs("raw.error", "e", "raw.error_code", "c", "raw.source_topic", "s", "raw.source_partition", "p", "raw.source_offset", "o", "raw.truncated", "t", "raw.original_size", "n")},
		{"prefixed name renamed again", hdrs("raw.gateway", "x"), hdrs("raw.raw.gateway", "x")},
		{"replayed_from kept as it is", hdrs("replayed_from", "payments.dlq/0/7"), hdrs("replayed_from", "payments.dlq/0/7")},
		{"repeated names kept in order", hdrs("a", "1", "a", "2"), hdrs("a", "1", "a", "2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Headers(tc.raw, sample)
			n := len(got) - 6
			if n != len(tc.want) || (n > 0 && !reflect.DeepEqual(got[:n], tc.want)) {
				t.Errorf("raw part = %v, want %v", got[:max(n, 0)], tc.want)
			}
			wantDLQ := hdrs("error", "bad amount", "error_code", "invalid_amount", "gateway", "stripe",
				"source_topic", "payments.raw.stripe", "source_partition", "2", "source_offset", "41")
			if !reflect.DeepEqual(got[n:], wantDLQ) {
				t.Errorf("dead-letter part = %v, want %v", got[n:], wantDLQ)
			}
			info, raw := Split(got)
			if info != sample {
				t.Errorf("Split info = %+v, want %+v", info, sample)
			}
			if len(raw) != len(tc.raw) || (len(raw) > 0 && !reflect.DeepEqual(raw, tc.raw)) {
				t.Errorf("Split raw = %v, want %v", raw, tc.raw)
			}
		})
	}
}

func TestSplitReadsWhatIsThere(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []ckafka.Header
		want    Info
	}{
		{"nothing", nil, Info{Partition: -1, Offset: -1}},
		{"bad numbers", hdrs("source_partition", "x", "source_offset", "-3"), Info{Partition: -1, Offset: -1}},
		{"partition too large", hdrs("source_partition", "4294967296", "source_offset", "9"), Info{Partition: -1, Offset: 9}},
		{"truncated", hdrs("truncated", "true", "original_size", "2000000", "source_topic", "t"), Info{Topic: "t", Partition: -1, Offset: -1, Truncated: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := Split(tc.headers); got != tc.want {
				t.Errorf("Split = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzRoundTrip: whatever headers a raw record has, Split gives them back
// exactly after Headers.
func FuzzRoundTrip(f *testing.F) {
	f.Add("gateway", "stripe", "raw.gateway", "x")
	f.Add("error", "", "replayed_from", "payments.dlq/0/1")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		raw := hdrs(k1, v1, k2, v2)
		info, back := Split(Headers(raw, sample))
		if info != sample || !reflect.DeepEqual(back, raw) {
			t.Errorf("round trip of %v gave %+v, %v", raw, info, back)
		}
	})
}
