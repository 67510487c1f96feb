// Package synthetic invents payments and renders their life-cycle events in
// each gateway's own webhook JSON, for the producer, the tests and the
// benchmarks. A seed makes a run reproducible.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Payment is one payment the generator invented.
type Payment struct {
	ID       string
	Amount   int64 // minor units of Currency
	Currency string
	Email    string
	Method   string
	Created  time.Time
}

// Step is one event in a payment's life, and what it must normalize to.
type Step struct {
	Status        pb.PaymentStatus
	Refunded      int64 // cumulative, minor units; set on refund steps
	At            time.Time
	FailureReason string
	EventID       string // unique per step; a duplicate record repeats it
}

// Record is one raw Kafka record: key, value and the `gateway` header value.
type Record struct {
	Gateway pb.Gateway
	Header  string // value of the `gateway` header
	Key     string
	Value   []byte
	Payment Payment
	Step    Step
	// Invalid is the DLQ error code this record should get, "" when valid.
	Invalid string
	// Duplicate is set when this record repeats an earlier one.
	Duplicate bool
}

// gateway is what the generator needs to know of one gateway.
type gateway struct {
	pb         pb.Gateway
	name       string
	currencies []string
	methods    []string
	newID      func(r *rand.Rand) string
	newEventID func(r *rand.Rand) string
	// lifecycle lists the statuses a payment passes through to reach its
	// outcome, in the order this gateway sends them.
	lifecycle func(outcome pb.PaymentStatus) []pb.PaymentStatus
	render    func(p Payment, s Step) ([]byte, error)
}

var gateways = map[pb.Gateway]gateway{}

func register(g gateway) { gateways[g.pb] = g }

// Gateways lists the gateways the generator can render, in enum order.
func Gateways() []pb.Gateway {
	var out []pb.Gateway
	for g := pb.Gateway(1); int(g) < len(pb.Gateway_name); g++ {
		if _, ok := gateways[g]; ok {
			out = append(out, g)
		}
	}
	return out
}

// randomID returns prefix + n characters from the alphabet gateways use.
func randomID(r *rand.Rand, prefix string, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return prefix + string(b)
}

const (
	alnum      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	digits     = "0123456789"
)

// amountFor picks a realistic amount in minor units: 1.00 to 2,000.00 in the
// major unit, scaled by the currency's exponent.
func amountFor(r *rand.Rand, currency string) int64 {
	major := int64(1 + r.IntN(2000))
	switch currency {
	case "JPY", "KRW":
		return major * 100 // ¥100 to ¥200,000: yen have no minor unit
	case "KWD", "BHD", "JOD":
		// A few hundred dinars at most, to ten fils: Stripe and Razorpay take
		// three-decimal amounts only with a last digit of 0.
		return major*1000/10 + int64(r.IntN(100))*10
	case "INR":
		return major * 100 * 10 // ₹10 to ₹20,000, in paise
	}
	return major*100 + int64(r.IntN(100))
}

// partialRefund is a third of amount, kept to the currency's smallest amount
// the gateways take (ten fils for three-decimal currencies), at least one.
func partialRefund(amount int64, currency string) int64 {
	third := amount / 3
	switch currency {
	case "KWD", "BHD", "JOD":
		third -= third % 10
		return max(10, third)
	}
	return max(1, third)
}

func fmtErr(g gateway, err error) error {
	return fmt.Errorf("render %s event: %w", g.name, err)
}
