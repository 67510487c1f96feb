package normalizer

import (
	"math"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Gateways do not all count in ISO 4217 minor units. A unitTable says how one
// gateway writes the integer amounts of each currency, from that gateway's
// own docs, so that toISO can convert them exactly: never by rounding, and an
// amount the gateway's own rules make impossible is invalid_amount.
type unitTable struct {
	gateway string
	// exponent is the number of decimal digits the gateway's integer amount
	// carries for a currency; nil means "the ISO 4217 exponent".
	exponent func(currency string) int
	// step, when set, is a multiple every amount of the currency is in, in
	// the gateway's own units (Stripe ISK amounts are whole króna: 100s).
	step map[string]int64
	// why names the rule behind a step, for the DLQ message.
	why map[string]string
}

// Stripe: https://docs.stripe.com/currencies ("Zero-decimal currencies",
// "Three-decimal currencies", "Special cases"). Amounts are integers in the
// currency's smallest unit as Stripe defines it, and every currency is
// two-decimal unless Stripe lists it otherwise:
//   - zero-decimal: BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF
//     XOF XPF. ISO agrees (exponent 0) for all but MGA, whose ISO exponent is
//     2 (1 ariary = 5 iraimbilanja): Stripe's `amount: 1000, currency: "mga"`
//     is 1000 ariary, which is 100000 in ISO minor units.
//   - three-decimal: BHD JOD KWD OMR TND, as ISO; Stripe requires the last
//     digit to be 0 ("round to the nearest ten"), so 5124 KWD fils cannot
//     come from Stripe.
//   - ISK is two-decimal in the API for backwards compatibility but
//     effectively zero-decimal: amounts must be divisible by 100 (enforced
//     since 2023-04-14: https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds).
//     ISO's exponent is 0, so Stripe's 500 is 5 króna = 5 ISO minor units.
//   - HUF and TWD are two-decimal for charges (as ISO) and zero-decimal only
//     for payouts, which are not payment events: no conversion.
//   - UGX is in the zero-decimal list, as ISO: no conversion.
//
// Any other ISO currency is two-decimal at Stripe (for example IQD, whose ISO
// exponent is 3: Stripe's 100 is 1.00 dinar = 1000 ISO minor units).
var stripeUnits = unitTable{
	gateway: "stripe",
	exponent: func(currency string) int {
		switch currency {
		case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
			return 0
		case "BHD", "JOD", "KWD", "OMR", "TND":
			return 3
		}
		return 2
	},
	step: map[string]int64{"ISK": 100, "BHD": 10, "JOD": 10, "KWD": 10, "OMR": 10, "TND": 10},
	why: map[string]string{
		"ISK": "Stripe takes ISK amounts only in whole króna (multiples of 100)",
		"BHD": "Stripe's three-decimal amounts end in 0", "JOD": "Stripe's three-decimal amounts end in 0",
		"KWD": "Stripe's three-decimal amounts end in 0", "OMR": "Stripe's three-decimal amounts end in 0",
		"TND": "Stripe's three-decimal amounts end in 0",
	},
}

// Adyen: https://docs.adyen.com/development-resources/currency-codes/ lists
// the decimals of each currency it supports, and marks where it "differs
// from standard": CLP has 2 (ISO 0: Adyen's 10000 is 100 pesos), CVE has 0
// (ISO 2) and IDR has 0 (ISO 2: Adyen's 15000 is 15000 rupiah = 1500000 ISO
// minor units). Adyen's own web SDK (adyen-web, currency-decimals) agrees.
// ISK is 0 at Adyen, as ISO (older Adyen docs had 2). Every other currency
// is read with its ISO exponent.
var adyenUnits = unitTable{
	gateway: "adyen",
	exponent: func(currency string) int {
		switch currency {
		case "CLP":
			return 2
		case "CVE", "IDR":
			return 0
		}
		return isoExponent(currency)
	},
	step: map[string]int64{"CLP": 100},
	why:  map[string]string{"CLP": "Adyen writes CLP with 2 decimals, but pesos have no fraction"},
}

// Razorpay: https://razorpay.com/docs/api/orders/create/
// (the amount field) — amounts are in the smallest currency sub-unit (ISO),
// and for the three-decimal currencies (KWD, BHD, OMR) the last digit must be 0
// ("295.991 is passed as 295990").
var razorpayUnits = unitTable{
	gateway:  "razorpay",
	exponent: isoExponent,
	step:     map[string]int64{"BHD": 10, "KWD": 10, "OMR": 10},
	why: map[string]string{
		"BHD": "Razorpay's three-decimal amounts end in 0", "KWD": "Razorpay's three-decimal amounts end in 0",
		"OMR": "Razorpay's three-decimal amounts end in 0",
	},
}

// Square: https://developer.squareup.com/docs/build-basics/working-with-monetary-amounts
// — Money.amount is in the currency's smallest denomination as ISO 4217
// defines it (cents, yen).
var squareUnits = unitTable{gateway: "square", exponent: isoExponent}

func isoExponent(currency string) int { return minorUnits[currency] }

// toISO converts amount, written in g's units of currency (a known ISO
// code), to ISO 4217 minor units.
func (g unitTable) toISO(field string, amount int64, currency string) (int64, error) {
	if step := g.step[currency]; step > 1 && amount%step != 0 {
		return 0, errorf(CodeInvalidAmount, "%s %d %s is impossible: %s", field, amount, currency, g.why[currency])
	}
	from, to := g.exponent(currency), isoExponent(currency)
	switch {
	case from > to:
		scale := pow10(from - to)
		if amount%scale != 0 {
			return 0, errorf(CodeInvalidAmount, "%s %d %s has a fraction of the currency's smallest unit (%s writes %d decimals, ISO 4217 has %d)",
				field, amount, currency, g.gateway, from, to)
		}
		return amount / scale, nil
	case from < to:
		scale := pow10(to - from)
		if amount > math.MaxInt64/scale {
			return 0, errorf(CodeInvalidAmount, "%s %d %s is too large in ISO 4217 minor units", field, amount, currency)
		}
		return amount * scale, nil
	}
	return amount, nil
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

// money validates currency and amount together and converts the amount from
// the gateway's units to ISO 4217 minor units.
func (g unitTable) money(field string, amount number, currency string) (*pb.Money, error) {
	cur, err := parseCurrency(currency)
	if err != nil {
		return nil, err
	}
	v, err := minorAmount(field, amount)
	if err != nil {
		return nil, err
	}
	if v, err = g.toISO(field, v, cur); err != nil {
		return nil, err
	}
	return &pb.Money{AmountMinor: v, Currency: cur}, nil
}
