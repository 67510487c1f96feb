package normalizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestDetectGateway(t *testing.T) {
	stripeDoc := readFixture(t, "stripe", "payment_intent.succeeded.json")
	razorpayDoc := readFixture(t, "razorpay", "payment.captured.json")
	for _, tc := range []struct {
		name     string
		rec      Record
		want     pb.Gateway
		wantCode Code
	}{
		{"header wins over topic and shape",
			Record{Topic: "payments.raw.stripe", GatewayHeader: "razorpay", Value: stripeDoc}, pb.Gateway_GATEWAY_RAZORPAY, ""},
		{"header is case and space insensitive",
			Record{Topic: "payments.raw", GatewayHeader: " Stripe ", Value: razorpayDoc}, pb.Gateway_GATEWAY_STRIPE, ""},
		{"topic suffix wins over shape",
			Record{Topic: "payments.raw.stripe", Value: razorpayDoc}, pb.Gateway_GATEWAY_STRIPE, ""},
		{"topic suffix razorpay",
			Record{Topic: "payments.raw.razorpay", Value: []byte(`{}`)}, pb.Gateway_GATEWAY_RAZORPAY, ""},
		{"mixed topic: stripe shape",
			Record{Topic: "payments.raw", Value: stripeDoc}, pb.Gateway_GATEWAY_STRIPE, ""},
		{"mixed topic: razorpay shape",
			Record{Topic: "payments.raw", Value: razorpayDoc}, pb.Gateway_GATEWAY_RAZORPAY, ""},
		{"topic suffix naming no gateway falls back to shape",
			Record{Topic: "payments.raw.unspecified", Value: stripeDoc}, pb.Gateway_GATEWAY_STRIPE, ""},
		{"unknown header is not overridden by topic",
			Record{Topic: "payments.raw.stripe", GatewayHeader: "braintree", Value: stripeDoc}, 0, CodeUnknownGateway},
		{"header naming the unspecified enum value",
			Record{Topic: "payments.raw", GatewayHeader: "unspecified", Value: stripeDoc}, 0, CodeUnknownGateway},
		{"unknown shape",
			Record{Topic: "payments.raw", Value: []byte(`{"hello":"world","amount":100}`)}, 0, CodeUnknownGateway},
		{"empty value, no topic",
			Record{}, 0, CodeUnknownGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectGateway(tc.rec)
			if tc.wantCode != "" {
				if code := CodeOf(err); code != tc.wantCode {
					t.Fatalf("want code %q, got gateway %v, err %v", tc.wantCode, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestDetectGatewayShapes: on the course's mixed topic every well-formed
// fixture of a gateway must be recognised as that gateway by its shape alone.
func TestDetectGatewayShapes(t *testing.T) {
	for _, gw := range []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY} {
		dir := GatewayName(gw)
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures for %s: %v", dir, err)
		}
		for _, file := range files {
			name := dir + "/" + filepath.Base(file)
			t.Run(name, func(t *testing.T) {
				doc, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(doc) {
					t.Skip("not JSON: shape detection is a best effort on well-formed documents")
				}
				got, err := DetectGateway(Record{Topic: "payments.raw", Value: doc})
				if err == nil && got == gw {
					return
				}
				t.Fatalf("got %v, %v; want %v", got, err, gw)
			})
		}
	}
}

var recordHashRE = regexp.MustCompile(`^sha256:[0-9a-f]{32}$`)

func TestNormalize(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		// Checked before anything else: no header, no gateway topic, no shape.
		rec := Record{Topic: "payments.raw", Value: bytes.Repeat([]byte{' '}, MaxRecordBytes+1)}
		got, err := Normalize(rec)
		if code := CodeOf(err); code != CodeTooLarge {
			t.Fatalf("want code %q, got %q (err %v, payments %v)", CodeTooLarge, code, err, got)
		}
	})

	t.Run("exactly the limit is read", func(t *testing.T) {
		doc := readFixture(t, "stripe", "payment_intent.succeeded.json")
		doc = append(doc, bytes.Repeat([]byte{'\n'}, MaxRecordBytes-len(doc))...)
		got, err := Normalize(Record{Topic: "payments.raw.stripe", Value: doc})
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v, %v; want one payment", got, err)
		}
	})

	t.Run("stripe: gateway and source stamped, event id kept", func(t *testing.T) {
		rec := Record{Topic: "payments.raw.stripe", Partition: 3, Offset: 42, Value: readFixture(t, "stripe", "payment_intent.succeeded.json")}
		got, err := Normalize(rec)
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v, %v; want one payment", got, err)
		}
		p := got[0]
		if p.GetGateway() != pb.Gateway_GATEWAY_STRIPE {
			t.Errorf("gateway = %v, want STRIPE", p.GetGateway())
		}
		if s := p.GetSource(); s.GetTopic() != rec.Topic || s.GetPartition() != 3 || s.GetOffset() != 42 {
			t.Errorf("source = %v, want %s/3/42", s, rec.Topic)
		}
		if p.GetEventId() != "evt_3SXa1AH2kLmN3oPq0ev1Succ" {
			t.Errorf("event id = %q, want the Stripe event id", p.GetEventId())
		}
	})

	t.Run("razorpay: event id is a stable record hash", func(t *testing.T) {
		doc := readFixture(t, "razorpay", "payment.captured.json")
		first, err := Normalize(Record{Topic: "payments.raw", Partition: 0, Offset: 7, Value: doc})
		if err != nil || len(first) != 1 {
			t.Fatalf("got %v, %v; want one payment", first, err)
		}
		p := first[0]
		if p.GetGateway() != pb.Gateway_GATEWAY_RAZORPAY {
			t.Errorf("gateway = %v, want RAZORPAY (by shape on the mixed topic)", p.GetGateway())
		}
		if s := p.GetSource(); s.GetTopic() != "payments.raw" || s.GetPartition() != 0 || s.GetOffset() != 7 {
			t.Errorf("source = %v, want payments.raw/0/7", s)
		}
		if !recordHashRE.MatchString(p.GetEventId()) {
			t.Fatalf("event id = %q, want sha256:<32 hex>", p.GetEventId())
		}
		// The same bytes redelivered elsewhere (another topic, partition,
		// offset, or with a header) are the same event.
		again, err := Normalize(Record{Topic: "payments.raw.razorpay", Partition: 5, Offset: 9001, GatewayHeader: "razorpay", Value: append([]byte(nil), doc...)})
		if err != nil || len(again) != 1 {
			t.Fatalf("got %v, %v; want one payment", again, err)
		}
		if again[0].GetEventId() != p.GetEventId() {
			t.Errorf("event id not stable: %q then %q", p.GetEventId(), again[0].GetEventId())
		}
		// Another event of the same payment is another event.
		other, err := Normalize(Record{Topic: "payments.raw", Value: readFixture(t, "razorpay", "refund.processed.full.json")})
		if err != nil || len(other) != 1 {
			t.Fatalf("got %v, %v; want one payment", other, err)
		}
		if other[0].GetId() != p.GetId() {
			t.Fatalf("fixtures disagree: %q vs %q", other[0].GetId(), p.GetId())
		}
		if other[0].GetEventId() == p.GetEventId() || !recordHashRE.MatchString(other[0].GetEventId()) {
			t.Errorf("refund event id %q, capture event id %q: want two distinct record hashes", other[0].GetEventId(), p.GetEventId())
		}
	})

	t.Run("errors keep their code through the wrapping", func(t *testing.T) {
		_, err := Normalize(Record{Topic: "payments.raw.stripe", Value: readFixture(t, "stripe", "payment_intent.unknown_thing.json")})
		if code := CodeOf(err); code != CodeUnsupportedEvent {
			t.Errorf("unsupported: code %q (err %v)", code, err)
		}
		_, err = Normalize(Record{Topic: "payments.raw", Value: readFixture(t, "razorpay", "order.paid.json")})
		if !errors.Is(err, ErrIgnored) || CodeOf(err) != "" {
			t.Errorf("ignored: want ErrIgnored and no DLQ code, got %v (code %q)", err, CodeOf(err))
		}
		_, err = Normalize(Record{Topic: "payments.raw", Value: []byte(`{"hello":"world"}`)})
		if code := CodeOf(err); code != CodeUnknownGateway {
			t.Errorf("unknown gateway: code %q (err %v)", code, err)
		}
	})
}
