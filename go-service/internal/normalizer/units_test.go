package normalizer

import "testing"

// Each gateway's own amount units come out as ISO 4217 minor units, exactly;
// what the gateway's rules make impossible is invalid_amount, never rounded.
// One fixture per special case in the gateways' currency docs (units.go).
func TestGatewayUnitsToISOMinorUnits(t *testing.T) {
	for _, tc := range []struct {
		n        Normalizer
		file     string
		want     int64 // ISO 4217 minor units
		currency string
		code     Code
	}{
		// Stripe treats MGA as zero-decimal; ISO gives it 2 decimals: 1000 ariary.
		{Stripe{}, "payment_intent.succeeded.mga.json", 100000, "MGA", ""},
		{Stripe{}, "invalid.mga_overflow.json", 0, "", CodeInvalidAmount},
		// ISK is written with two decimals at Stripe, in whole króna only; ISO 0.
		{Stripe{}, "payment_intent.succeeded.isk.json", 500, "ISK", ""},
		{Stripe{}, "invalid.isk_fraction.json", 0, "", CodeInvalidAmount},
		// HUF and TWD are two-decimal for charges (zero-decimal for payouts only).
		{Stripe{}, "payment_intent.succeeded.huf.json", 150050, "HUF", ""},
		{Stripe{}, "payment_intent.succeeded.twd.json", 30050, "TWD", ""},
		// UGX and CLP are zero-decimal at Stripe, as in ISO.
		{Stripe{}, "payment_intent.succeeded.ugx.json", 5000, "UGX", ""},
		{Stripe{}, "payment_intent.succeeded.clp.json", 15000, "CLP", ""},
		// Three-decimal amounts end in 0 at Stripe.
		{Stripe{}, "payment_intent.succeeded.kwd.json", 12340, "KWD", ""},
		{Stripe{}, "invalid.kwd_last_digit.json", 0, "", CodeInvalidAmount},

		// Adyen: CLP has 2 decimals (ISO 0), CVE and IDR have 0 (ISO 2).
		{Adyen{}, "clp.json", 15000, "CLP", ""},
		{Adyen{}, "clp_fraction.json", 0, "", CodeInvalidAmount},
		{Adyen{}, "idr.json", 15000000, "IDR", ""},
		{Adyen{}, "cve.json", 250000, "CVE", ""},
		{Adyen{}, "jpy.json", 15800, "JPY", ""},
		{Adyen{}, "kwd.json", 12345, "KWD", ""},

		// Razorpay: ISO sub-units; three-decimal amounts end in 0.
		{Razorpay{}, "payment.captured.kwd.json", 12340, "KWD", ""},
		{Razorpay{}, "invalid.kwd_last_digit.json", 0, "", CodeInvalidAmount},

		// PayPal: HUF, JPY and TWD have no decimals at PayPal.
		{PayPal{}, "huf_capture_completed.json", 150000, "HUF", ""},
		{PayPal{}, "huf_decimals.json", 0, "", CodeInvalidAmount},
		{PayPal{}, "twd_decimals.json", 0, "", CodeInvalidAmount},
		{PayPal{}, "twd_zero_decimals.json", 30000, "TWD", ""},
		{PayPal{}, "jpy_capture_completed.json", 5000, "JPY", ""},

		// Square: ISO 4217 smallest denomination.
		{Square{}, "payment_created_jpy.json", 3300, "JPY", ""},
	} {
		gw := GatewayName(tc.n.Gateway())
		t.Run(gw+"/"+tc.file, func(t *testing.T) {
			got, err := tc.n.Normalize(readFixture(t, gw, tc.file))
			if tc.code != "" {
				if CodeOf(err) != tc.code {
					t.Fatalf("got %v, err %v; want DLQ code %s", got, err, tc.code)
				}
				return
			}
			if err != nil || len(got) != 1 {
				t.Fatalf("got %v, err %v", got, err)
			}
			a := got[0].GetAmount()
			if a.GetCurrency() != tc.currency || a.GetAmountMinor() != tc.want {
				t.Fatalf("amount %d %s, want %d %s", a.GetAmountMinor(), a.GetCurrency(), tc.want, tc.currency)
			}
		})
	}
}

func TestUnitTableToISO(t *testing.T) {
	for _, tc := range []struct {
		table    unitTable
		amount   int64
		currency string
		want     int64
		code     Code
	}{
		{stripeUnits, 1, "MGA", 100, ""},
		{stripeUnits, 92233720368547758, "MGA", 9223372036854775800, ""},
		{stripeUnits, 92233720368547759, "MGA", 0, CodeInvalidAmount}, // past int64 once in ISO units
		{stripeUnits, 100, "ISK", 1, ""},
		{stripeUnits, 150, "ISK", 0, CodeInvalidAmount},
		{stripeUnits, 5000, "USD", 5000, ""},
		{stripeUnits, 5000, "JPY", 5000, ""},
		{stripeUnits, 1230, "BHD", 1230, ""},
		{stripeUnits, 1231, "BHD", 0, CodeInvalidAmount},
		{adyenUnits, 100, "CLP", 1, ""},
		{adyenUnits, 101, "CLP", 0, CodeInvalidAmount},
		{adyenUnits, 1, "IDR", 100, ""},
		{adyenUnits, 1, "CVE", 100, ""},
		{adyenUnits, 1, "ISK", 1, ""},
		{adyenUnits, 1, "KWD", 1, ""},
		{razorpayUnits, 295990, "KWD", 295990, ""},
		{razorpayUnits, 295991, "KWD", 0, CodeInvalidAmount},
		{squareUnits, 2, "JPY", 2, ""},
	} {
		got, err := tc.table.toISO("amount", tc.amount, tc.currency)
		if CodeOf(err) != tc.code || (tc.code == "" && got != tc.want) {
			t.Errorf("%s %d %s = %d, %v; want %d, code %q", tc.table.gateway, tc.amount, tc.currency, got, err, tc.want, tc.code)
		}
	}
}

// Stripe's zero-decimal list, as units.go has it, must name currencies whose
// ISO exponent is known: a typo would silently make a currency two-decimal.
func TestStripeZeroDecimalCurrenciesAreISO(t *testing.T) {
	for _, c := range []string{"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"} {
		if _, ok := MinorUnits(c); !ok || stripeUnits.exponent(c) != 0 {
			t.Errorf("%s: ISO known %v, Stripe exponent %d", c, ok, stripeUnits.exponent(c))
		}
	}
}

// FuzzToISO: a conversion that succeeds is exact (it converts back to the
// gateway's amount) and never negative; one that fails says invalid_amount.
func FuzzToISO(f *testing.F) {
	for _, c := range []string{"MGA", "ISK", "KWD", "CLP", "IDR", "USD", "JPY"} {
		f.Add(int64(1000), c)
	}
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		if amount < 0 {
			return // minorAmount refuses negative amounts before toISO
		}
		if _, ok := MinorUnits(currency); !ok {
			return
		}
		for _, g := range []unitTable{stripeUnits, adyenUnits, razorpayUnits, squareUnits} {
			got, err := g.toISO("amount", amount, currency)
			if err != nil {
				if CodeOf(err) != CodeInvalidAmount {
					t.Fatalf("%s %d %s: %v", g.gateway, amount, currency, err)
				}
				continue
			}
			from, to := g.exponent(currency), isoExponent(currency)
			back := got
			if from > to {
				back = got * pow10(from-to)
			} else if from < to {
				back = got / pow10(to-from)
			}
			if got < 0 || back != amount {
				t.Fatalf("%s %d %s → %d, which is not exact", g.gateway, amount, currency, got)
			}
		}
	})
}
