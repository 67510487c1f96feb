package normalizer_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"learner.example/go-service/internal/normalizer"
	"learner.example/go-service/pb"
)

// check09xEvent is a Square webhook in Square's own shape, with the parts a
// test changes left open.
func check09xEvent(eventType, status, money string) []byte {
	return []byte(`{"merchant_id":"MCHECK","type":"` + eventType + `","event_id":"9f0c1e2d-check-09x",
	  "created_at":"2026-03-02T17:05:31.406Z","data":{"type":"payment","id":"sqCheck09x","object":{"payment":{
	  "id":"sqCheck09x","created_at":"2026-03-02T16:41:06.877Z","updated_at":"2026-03-02T17:05:31.118Z",
	  ` + money + `,"status":"` + status + `","source_type":"CARD","buyer_email_address":"check@example.com"}}}}`)
}

const check09xTipped = `"amount_money":{"amount":2599,"currency":"USD"},"tip_money":{"amount":400,"currency":"USD"},"total_money":{"amount":2999,"currency":"USD"}`

func TestCheck09xSquareCompleted(t *testing.T) {
	p, err := normalizer.Square(check09xEvent("payment.updated", "COMPLETED", check09xTipped))
	if err != nil {
		t.Fatalf("Square(a payment.updated event, status COMPLETED) returned an error: %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"id (data.object.payment.id)", p.GetId(), "sqCheck09x"},
		{"gateway", p.GetGateway(), pb.Gateway_GATEWAY_SQUARE},
		{"amount.amount_minor (total_money: what the buyer paid, tip included)", p.GetAmount().GetAmountMinor(), int64(2999)},
		{"amount.currency", p.GetAmount().GetCurrency(), "USD"},
		{"status", p.GetStatus(), pb.PaymentStatus_PAYMENT_STATUS_COMPLETED},
		{"created_at (the payment's created_at, an RFC 3339 time: seconds)", p.GetCreatedAt().GetSeconds(), int64(1772469666)},
		{"updated_at (the payment's updated_at: seconds)", p.GetUpdatedAt().GetSeconds(), int64(1772471131)},
		{"customer_email (buyer_email_address)", p.GetCustomerEmail(), "check@example.com"},
		{"event_id (the event's event_id)", p.GetEventId(), "9f0c1e2d-check-09x"},
	} {
		if c.got != c.want {
			t.Errorf("payment.%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestCheck09xSquareStatuses(t *testing.T) {
	money := `"amount_money":{"amount":500,"currency":"JPY"}` // no total_money: amount_money is the amount
	for status, want := range map[string]pb.PaymentStatus{
		"PENDING":  pb.PaymentStatus_PAYMENT_STATUS_PENDING,
		"APPROVED": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
		"FAILED":   pb.PaymentStatus_PAYMENT_STATUS_FAILED,
		"CANCELED": pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
	} {
		p, err := normalizer.Square(check09xEvent("payment.created", status, money))
		if err != nil || p.GetStatus() != want || p.GetAmount().GetAmountMinor() != 500 {
			t.Errorf("Square(payment.created, status %s, amount_money only) = (%v %v, %v); want status %v and amount 500", status, p.GetStatus(), p.GetAmount(), err, want)
		}
	}
}

func TestCheck09xSquareRejects(t *testing.T) {
	for _, c := range []struct {
		what string
		raw  []byte
		want error
	}{
		{"truncated JSON", []byte(`{"type":"payment.updated","data":{`), normalizer.ErrMalformed},
		{"a refund.updated event", []byte(`{"type":"refund.updated","event_id":"e1","data":{"type":"refund","object":{"refund":{"id":"r1","status":"COMPLETED"}}}}`), normalizer.ErrNotAPayment},
		{"a negative amount", check09xEvent("payment.created", "COMPLETED", `"amount_money":{"amount":-500,"currency":"USD"}`), normalizer.ErrMalformed},
		{"no amount at all", check09xEvent("payment.created", "COMPLETED", `"source_type":"CARD"`), normalizer.ErrMalformed},
		{"a status Square does not have", check09xEvent("payment.updated", "SETTLED", check09xTipped), normalizer.ErrMalformed},
		{"a created_at that is not a time", []byte(`{"type":"payment.created","event_id":"e2","data":{"object":{"payment":{"id":"p2","created_at":"yesterday","updated_at":"2026-03-02T17:05:31Z","amount_money":{"amount":1,"currency":"USD"},"status":"COMPLETED"}}}}`), normalizer.ErrMalformed},
	} {
		if _, err := normalizer.Square(c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want an error that wraps %v", c.what, err, c.want)
		}
	}
}

func TestCheck09xFuzzSquare(t *testing.T) {
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=09x`")
	}
	goTest := func(args ...string) (string, bool) {
		cmd := exec.Command("go", append([]string{"test", "-timeout=2m"}, args...)...)
		cmd.Dir = filepath.Join(dir, "go-service")
		out, err := cmd.CombinedOutput()
		return string(out), err == nil
	}
	out, ok := goTest("-count=1", "-v", "-run", "^FuzzSquare$", "./internal/normalizer")
	if !ok {
		t.Fatalf("FuzzSquare fails on its own seeds:\n%s", out)
	}
	if !regexp.MustCompile(`--- PASS: FuzzSquare/\S+`).MatchString(out) {
		t.Fatalf("FuzzSquare ran no seed inputs: seed it with the fixtures in testdata/square (f.Add), so that `go test` checks them on every run:\n%s", out)
	}
	if out, ok := goTest("-run", "^$", "-fuzz", "^FuzzSquare$", "-fuzztime", "2s", "./internal/normalizer"); !ok {
		t.Errorf("fuzzing FuzzSquare for 2s found a failure (the input is saved under testdata/fuzz/FuzzSquare; `go test` replays it):\n%s", out)
	}
}
