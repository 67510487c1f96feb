package payment_test

import (
	"testing"

	"learner.example/go-service/internal/payment"
)

// The exercise's two currencies, with amounts other than the lesson's
// solution uses, and the lesson's own currencies, which must not change.
func TestCheck02xTwoMoreCurrencies(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{4200, "ISK", "4200 ISK"},
		{7, "ISK", "7 ISK"},
		{12345, "TND", "12.345 TND"},
		{5, "TND", "0.005 TND"},
		{-1500, "TND", "-1.500 TND"},
		{1234, "USD", "12.34 USD"},
		{1500, "JPY", "1500 JPY"},
		{12340, "KWD", "12.340 KWD"},
	} {
		if got := payment.FormatAmount(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatAmount(%d, %q) returned %q, want %q (ISK has no minor digits, TND has three)", tt.amount, tt.currency, got, tt.want)
		}
	}
}
