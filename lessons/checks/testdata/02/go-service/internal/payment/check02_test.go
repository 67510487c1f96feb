package payment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"learner.example/go-service/internal/payment"
)

func TestCheck02FormatAmount(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{1234, "USD", "12.34 USD"},
		{7, "USD", "0.07 USD"},
		{1500, "JPY", "1500 JPY"},
		{12340, "KWD", "12.340 KWD"},
	} {
		if got := payment.FormatAmount(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatAmount(%d, %q) returned %q; the lesson's table wants %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func TestCheck02PaymentPrintsItself(t *testing.T) {
	p := payment.Payment{ID: "pi_1", Gateway: "stripe", AmountMinor: 1250, Currency: "USD"}
	if got := fmt.Sprint(p); got != "pi_1 stripe 12.50 USD" {
		t.Errorf("fmt.Sprint(payment) printed %q, want %q: give Payment a String() method", got, "pi_1 stripe 12.50 USD")
	}
}

func TestCheck02ValidateWrapsErrInvalidAmount(t *testing.T) {
	err := payment.Payment{ID: "pi_1", Gateway: "stripe", AmountMinor: -5, Currency: "USD"}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a negative amount")
	}
	if !errors.Is(fmt.Errorf("caller: %w", err), payment.ErrInvalidAmount) {
		t.Errorf("Validate returned %q, which errors.Is does not match with ErrInvalidAmount: wrap it with %%w", err)
	}
	if err := (payment.Payment{ID: "pi_2", Gateway: "stripe", AmountMinor: 100, Currency: "USD"}).Validate(); err != nil {
		t.Errorf("Validate rejected a good payment: %v", err)
	}
}

func TestCheck02GenerateHonoursContext(t *testing.T) {
	payments := payment.Generate(context.Background(), 3)
	var ids []string
	for p := range payments {
		ids = append(ids, p.ID)
	}
	if len(ids) != 3 {
		t.Fatalf("Generate(ctx, 3) sent %d payments (%v), want 3 and then a closed channel", len(ids), ids)
	}

	ctx, cancel := context.WithCancel(context.Background())
	endless := payment.Generate(ctx, 1_000_000)
	<-endless
	cancel()
	left := 0
	for range endless {
		left++
	}
	if left > 1 {
		t.Errorf("after cancel Generate still sent %d payments: select on ctx.Done() next to the send", left)
	}
}
