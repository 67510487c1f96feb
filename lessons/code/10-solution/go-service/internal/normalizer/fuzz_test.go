package normalizer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.com/pipeline/go-service/pb"
)

// FuzzStripe feeds Stripe arbitrary bytes, starting from the fixtures. Whatever
// comes in, it must not panic, it must say why it refuses, and what it accepts
// must be a usable payment.
func FuzzStripe(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "stripe", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no seed fixtures in testdata/stripe: %v", err)
	}
	for _, name := range fixtures {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Stripe(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotAPayment) {
				t.Fatalf("an error that is neither ErrMalformed nor ErrNotAPayment: %v", err)
			}
			return
		}
		switch {
		case p.GetId() == "" || p.GetEventId() == "":
			t.Errorf("accepted a payment without ids: %v", p)
		case p.GetAmount().GetAmountMinor() < 0:
			t.Errorf("accepted a negative amount: %v", p)
		case len(p.GetAmount().GetCurrency()) != 3 || strings.ToUpper(p.GetAmount().GetCurrency()) != p.GetAmount().GetCurrency():
			t.Errorf("accepted currency %q", p.GetAmount().GetCurrency())
		case p.GetStatus() == pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED:
			t.Errorf("accepted a payment without a status: %v", p)
		}
	})
}
