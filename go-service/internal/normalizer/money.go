package normalizer

import (
	"math"
	"strconv"
	"strings"
)

// minorUnits is the ISO 4217 exponent of every active currency: how many
// decimal digits its minor unit has (USD 2 = cents, JPY 0, KWD 3 = fils).
// An unknown code is an error, never a guess: a wrong exponent is a payment
// off by a factor of 100.
var minorUnits = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2,
	"BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CLF": 4, "CLP": 0,
	"CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
	"EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
	"GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2,
	"INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2,
	"KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2,
	"LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2,
	"MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2,
	"NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0,
	"QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2,
	"SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2,
	"UGX": 0, "USD": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2, "VND": 0, "VUV": 0,
	"WST": 2, "XAF": 0, "XCD": 2, "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// MinorUnits returns how many decimal digits the currency's minor unit has.
func MinorUnits(currency string) (int, bool) {
	d, ok := minorUnits[currency]
	return d, ok
}

// parseCurrency upper-cases a gateway's currency code and checks it is ISO 4217.
func parseCurrency(code string) (string, error) {
	if code == "" {
		return "", errorf(CodeMissingField, "currency is missing")
	}
	up := strings.ToUpper(strings.TrimSpace(code))
	if _, ok := minorUnits[up]; !ok {
		return "", errorf(CodeInvalidCurrency, "currency %q is not an ISO 4217 code", code)
	}
	return up, nil
}

// minorAmount reads an integer amount in a gateway's own units (Stripe,
// Razorpay, Adyen, Square), exactly: 1e2, 50.5 and 2^63 are errors. The
// gateway's unitTable then converts it to ISO 4217 minor units.
func minorAmount(field string, n number) (int64, error) {
	if n == "" {
		return 0, errorf(CodeMissingField, "%s is missing", field)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, errorf(CodeInvalidAmount, "%s %q is not a whole number of minor units that fits in 64 bits", field, n)
	}
	if v < 0 {
		return 0, errorf(CodeInvalidAmount, "%s %d is negative", field, v)
	}
	return v, nil
}

// ParseDecimal converts a decimal string in major units ("50.00", "5000" for
// JPY, "1.250" for KWD) to minor units with exact integer arithmetic. More
// fraction digits than the currency has is an error, never a rounding.
func ParseDecimal(amount, currency string) (int64, error) {
	digits, ok := minorUnits[currency]
	if !ok {
		return 0, errorf(CodeInvalidCurrency, "currency %q is not an ISO 4217 code", currency)
	}
	if amount == "" {
		return 0, errorf(CodeMissingField, "amount is missing")
	}
	whole, frac, hasPoint := strings.Cut(amount, ".")
	if whole == "" || (hasPoint && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return 0, errorf(CodeInvalidAmount, "amount %q is not a non-negative decimal number", amount)
	}
	if len(frac) > digits {
		return 0, errorf(CodeInvalidAmount, "amount %q has %d decimal places; %s has %d", amount, len(frac), currency, digits)
	}
	frac += strings.Repeat("0", digits-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errorf(CodeInvalidAmount, "amount %q is too large", amount)
	}
	f, _ := strconv.ParseInt("0"+frac, 10, 64) // at most 4 digits: cannot fail
	scale := int64(math.Pow10(digits))
	if w > (math.MaxInt64-f)/scale {
		return 0, errorf(CodeInvalidAmount, "amount %q is too large", amount)
	}
	return w*scale + f, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
