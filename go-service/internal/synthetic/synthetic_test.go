package synthetic

import (
	"errors"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Every record the generator makes must normalize to exactly the payment it
// describes, and every corrupted one must be dead-lettered with its code.
func TestGeneratedRecordsNormalizeToTheirPayment(t *testing.T) {
	for _, gw := range Gateways() {
		for _, mix := range []Mix{MixSimple, MixRealistic} {
			t.Run(normalizer.GatewayName(gw)+"/"+string(mix), func(t *testing.T) {
				gen, err := New(Options{Seed: 7, Gateways: []pb.Gateway{gw}, Mix: mix, InvalidRate: 0.1})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 2000 {
					rec, err := gen.Next()
					if err != nil {
						t.Fatal(err)
					}
					checkRecord(t, i, rec)
				}
			})
		}
	}
}

func checkRecord(t *testing.T, i int, rec Record) {
	t.Helper()
	payments, err := normalizer.Normalize(normalizer.Record{Topic: "payments.raw", GatewayHeader: rec.Header, Value: rec.Value})
	if rec.Invalid != "" {
		if got := normalizer.CodeOf(err); string(got) != rec.Invalid {
			t.Fatalf("record %d: want DLQ code %s, got %q (%v)", i, rec.Invalid, got, err)
		}
		return
	}
	if err != nil {
		if errors.Is(err, normalizer.ErrIgnored) {
			t.Fatalf("record %d: generated an ignored event: %v", i, err)
		}
		t.Fatalf("record %d: %v\n%s", i, err, rec.Value)
	}
	if len(payments) != 1 {
		t.Fatalf("record %d: want 1 payment, got %d", i, len(payments))
	}
	p := payments[0]
	if p.GetId() != rec.Payment.ID || p.GetGateway() != rec.Gateway || rec.Key != rec.Payment.ID {
		t.Fatalf("record %d: id/gateway/key %s/%v/%s, want %s/%v", i, p.GetId(), p.GetGateway(), rec.Key, rec.Payment.ID, rec.Gateway)
	}
	if p.GetStatus() != rec.Step.Status {
		t.Fatalf("record %d: status %v, want %v\n%s", i, p.GetStatus(), rec.Step.Status, rec.Value)
	}
	if p.GetAmount().GetAmountMinor() != rec.Payment.Amount || p.GetAmount().GetCurrency() != rec.Payment.Currency {
		t.Fatalf("record %d: amount %v, want %d %s\n%s", i, p.GetAmount(), rec.Payment.Amount, rec.Payment.Currency, rec.Value)
	}
	if p.GetRefunded().GetAmountMinor() != rec.Step.Refunded {
		t.Fatalf("record %d: refunded %v, want %d\n%s", i, p.GetRefunded(), rec.Step.Refunded, rec.Value)
	}
	if rec.Step.EventID != "" && p.GetEventId() != rec.Step.EventID {
		t.Fatalf("record %d: event id %s, want %s", i, p.GetEventId(), rec.Step.EventID)
	}
	if !p.GetUpdatedAt().AsTime().Equal(rec.Step.At.Truncate(1e9)) && !p.GetUpdatedAt().AsTime().Equal(rec.Step.At) {
		t.Fatalf("record %d: updated_at %v, want %v", i, p.GetUpdatedAt().AsTime(), rec.Step.At)
	}
}
