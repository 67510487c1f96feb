// Package payment is the learner's first Go: a Payment type, a method that
// formats it, an error, and a generator that runs in its own goroutine.
package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidAmount is returned by Validate for amounts below zero. Callers
// test for it with errors.Is, whatever context was wrapped around it.
var ErrInvalidAmount = errors.New("invalid amount")

// Payment is one payment as a gateway reports it. Money is an integer count
// of the currency's minor unit (cents for USD), never a float.
type Payment struct {
	ID          string
	Gateway     string
	AmountMinor int64
	Currency    string
}

// minorDigits is how many digits of the minor unit a currency has. Most have
// two; these do not.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}

// FormatAmount writes an amount in minor units as a decimal: 1234 USD is
// "12.34 USD", 1500 JPY is "1500 JPY", 12340 KWD is "12.340 KWD".
func FormatAmount(amountMinor int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	sign := ""
	if amountMinor < 0 {
		sign = "-"
		amountMinor = -amountMinor
	}
	text := fmt.Sprintf("%0*d", digits+1, amountMinor)
	if digits == 0 {
		return sign + text + " " + currency
	}
	cut := len(text) - digits
	return sign + text[:cut] + "." + text[cut:] + " " + currency
}

// String makes a Payment print as "pi_1 stripe 12.34 USD".
func (p Payment) String() string {
	return p.ID + " " + p.Gateway + " " + FormatAmount(p.AmountMinor, p.Currency)
}

// Validate says what is wrong with a payment, or nil.
func (p Payment) Validate() error {
	if p.ID == "" {
		return errors.New("payment has no id")
	}
	if p.AmountMinor < 0 {
		return fmt.Errorf("payment %s: %d: %w", p.ID, p.AmountMinor, ErrInvalidAmount)
	}
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
		return fmt.Errorf("payment %s: currency %q is not an upper-case ISO 4217 code", p.ID, p.Currency)
	}
	return nil
}

// Generate sends count payments on the channel it returns, from its own
// goroutine, and closes the channel when it is done or ctx is cancelled.
func Generate(ctx context.Context, count int) <-chan Payment {
	out := make(chan Payment)
	go func() {
		defer close(out)
		for i := 1; i <= count; i++ {
			p := Payment{ID: fmt.Sprintf("pi_%d", i), Gateway: "stripe", AmountMinor: int64(i) * 1250, Currency: "USD"}
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
