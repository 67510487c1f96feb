package money

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{5000, "USD", "$50.00"},
		{100000, "INR", "₹1000.00"},
		{5000, "JPY", "¥5000"},
		{1250, "KWD", "1.250 KWD"},
		{5, "EUR", "€0.05"},
		{0, "GBP", "£0.00"},
		{-150, "USD", "$-1.50"},
		{math.MinInt64, "USD", "$-92233720368547758.08"},
		{42, "XXX", "42 XXX (minor units)"},
	}
	for _, tc := range tests {
		if got := Format(tc.minor, tc.currency); got != tc.want {
			t.Errorf("Format(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.want)
		}
	}
}
