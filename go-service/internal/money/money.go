// Package money formats minor-unit amounts for people to read. Amounts are
// integers all the way; only this last step makes a decimal string.
package money

import (
	"strconv"
	"strings"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
)

var symbols = map[string]string{"USD": "$", "INR": "₹", "EUR": "€", "GBP": "£", "JPY": "¥"}

// Format renders amountMinor in currency: "$50.00", "₹1000.00", "¥5000",
// "1.250 KWD". Unknown currencies show the raw minor units and the code.
func Format(amountMinor int64, currency string) string {
	digits, ok := normalizer.MinorUnits(currency)
	if !ok {
		return strconv.FormatInt(amountMinor, 10) + " " + currency + " (minor units)"
	}
	s := Decimal(amountMinor, digits)
	if sym, ok := symbols[currency]; ok {
		return sym + s
	}
	return s + " " + currency
}

// Decimal writes amountMinor with digits decimal places, exactly.
func Decimal(amountMinor int64, digits int) string {
	neg := amountMinor < 0
	s := strconv.FormatUint(absU(amountMinor), 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}
