package payment

import (
	"context"
	"errors"
	"testing"
)

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{1234, "USD", "12.34 USD"},
		{5, "USD", "0.05 USD"},
		{1500, "JPY", "1500 JPY"},
		{12340, "KWD", "12.340 KWD"},
		{-250, "EUR", "-2.50 EUR"},
	}
	for _, tt := range tests {
		if got := FormatAmount(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatAmount(%d, %q) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Payment{ID: "pi_1", Gateway: "stripe", AmountMinor: 100, Currency: "USD"}
	if err := ok.Validate(); err != nil {
		t.Errorf("%v: %v", ok, err)
	}
	negative := Payment{ID: "pi_2", AmountMinor: -1, Currency: "USD"}
	if err := negative.Validate(); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("negative amount: got %v, want ErrInvalidAmount", err)
	}
	lower := Payment{ID: "pi_3", AmountMinor: 1, Currency: "usd"}
	if err := lower.Validate(); err == nil {
		t.Error("lower-case currency passed validation")
	}
}

func TestGenerateStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	payments := Generate(ctx, 1000)
	first := <-payments
	if first.ID != "pi_1" {
		t.Errorf("first payment %v, want pi_1", first)
	}
	cancel()
	count := 0
	for range payments { // ends when Generate closes the channel
		count++
	}
	if count > 1 {
		t.Errorf("received %d payments after cancel, want at most 1", count)
	}
}
