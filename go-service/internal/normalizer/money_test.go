package normalizer

import (
	"strconv"
	"strings"
	"testing"
)

func TestMinorUnits(t *testing.T) {
	for _, tc := range []struct {
		currency string
		digits   int
		ok       bool
	}{
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"USD", 2, true},
		{"EUR", 2, true},
		{"INR", 2, true},
		{"KWD", 3, true},
		{"BHD", 3, true},
		{"JOD", 3, true},
		{"XYZ", 0, false},
		{"usd", 0, false}, // codes are upper case; parseCurrency normalizes before lookup
		{"", 0, false},
	} {
		digits, ok := MinorUnits(tc.currency)
		if digits != tc.digits || ok != tc.ok {
			t.Errorf("MinorUnits(%q) = %d, %v; want %d, %v", tc.currency, digits, ok, tc.digits, tc.ok)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		amount, currency string
		want             int64
		code             Code // "" means success
	}{
		{"50.00", "USD", 5000, ""},
		{"50", "USD", 5000, ""},
		{"50.5", "USD", 5050, ""},
		{"0.1", "USD", 10, ""},
		{"0.01", "USD", 1, ""},
		{"0", "USD", 0, ""},
		{"007.50", "EUR", 750, ""},
		{"5000", "JPY", 5000, ""},
		{"1.250", "KWD", 1250, ""},
		{"1.25", "KWD", 1250, ""},
		{"0.001", "BHD", 1, ""},
		{"1.2345", "CLF", 12345, ""},
		{"92233720368547758.07", "USD", 9223372036854775807, ""}, // exactly MaxInt64 cents
		{"9223372036854775807", "JPY", 9223372036854775807, ""},

		{"1.234", "USD", 0, CodeInvalidAmount}, // more decimals than USD has: never rounded
		{"5000.0", "JPY", 0, CodeInvalidAmount},
		{"1.2500", "KWD", 0, CodeInvalidAmount},
		{"-1", "USD", 0, CodeInvalidAmount},
		{"+1", "USD", 0, CodeInvalidAmount},
		{"1e3", "USD", 0, CodeInvalidAmount},
		{"", "USD", 0, CodeMissingField},
		{".5", "USD", 0, CodeInvalidAmount},
		{"5.", "USD", 0, CodeInvalidAmount},
		{"abc", "USD", 0, CodeInvalidAmount},
		{"1.2.3", "USD", 0, CodeInvalidAmount},
		{"1,50", "EUR", 0, CodeInvalidAmount},
		{" 5", "USD", 0, CodeInvalidAmount},
		{"NaN", "USD", 0, CodeInvalidAmount},
		{"92233720368547758.08", "USD", 0, CodeInvalidAmount}, // one cent past MaxInt64
		{"9223372036854775808", "JPY", 0, CodeInvalidAmount},
		{"99999999999999999999999", "USD", 0, CodeInvalidAmount},
		{"50.00", "XYZ", 0, CodeInvalidCurrency},
	} {
		got, err := ParseDecimal(tc.amount, tc.currency)
		if tc.code == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseDecimal(%q, %q) = %d, %v; want %d", tc.amount, tc.currency, got, err, tc.want)
			}
			continue
		}
		if code := CodeOf(err); code != tc.code {
			t.Errorf("ParseDecimal(%q, %q) = %d, %v (code %q); want code %q", tc.amount, tc.currency, got, err, code, tc.code)
		}
	}
}

// canonicalDecimal is the form a valid amount takes when written with exactly
// the currency's number of decimals and no superfluous leading zeros:
// "007.5" USD is "7.50", "5000" JPY is "5000".
func canonicalDecimal(amount string, digits int) string {
	whole, frac, _ := strings.Cut(amount, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	if digits == 0 {
		return whole
	}
	return whole + "." + frac + strings.Repeat("0", digits-len(frac))
}

// formatMinor writes minor units back as a decimal in major units.
func formatMinor(v int64, digits int) string {
	s := strconv.FormatInt(v, 10)
	if digits == 0 {
		return s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

func FuzzParseDecimal(f *testing.F) {
	for _, seed := range []struct{ amount, currency string }{
		{"50.00", "USD"}, {"5000", "JPY"}, {"1.250", "KWD"}, {"0.1", "USD"}, {"1.2345", "CLF"},
		{"1.234", "USD"}, {"-1", "USD"}, {"1e3", "USD"}, {"", "USD"}, {".5", "USD"}, {"5.", "USD"},
		{"abc", "USD"}, {"92233720368547758.07", "USD"}, {"92233720368547758.08", "USD"}, {"00.10", "EUR"},
	} {
		f.Add(seed.amount, seed.currency)
	}
	f.Fuzz(func(t *testing.T, amount, currency string) {
		v, err := ParseDecimal(amount, currency)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("ParseDecimal(%q, %q): error without a DLQ code: %v", amount, currency, err)
			}
			return
		}
		digits, ok := MinorUnits(currency)
		if !ok {
			t.Fatalf("ParseDecimal(%q, %q) = %d for a currency MinorUnits does not know", amount, currency, v)
		}
		if v < 0 {
			t.Fatalf("ParseDecimal(%q, %q) = %d < 0", amount, currency, v)
		}
		formatted := formatMinor(v, digits)
		if want := canonicalDecimal(amount, digits); formatted != want {
			t.Fatalf("ParseDecimal(%q, %q) = %d, which formats as %q; want %q", amount, currency, v, formatted, want)
		}
		again, err := ParseDecimal(formatted, currency)
		if err != nil || again != v {
			t.Fatalf("re-parsing %q (%s) gave %d, %v; want %d", formatted, currency, again, err, v)
		}
	})
}
