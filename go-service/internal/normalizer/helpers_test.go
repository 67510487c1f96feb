package normalizer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paymentgateway/aggregator/go-service/pb"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fixtureCase is one webhook file under testdata/<gateway>/ and what it must
// normalize to: the exact Payments, or the DLQ code, or "ignored".
type fixtureCase struct {
	file     string
	want     []*pb.Payment // Gateway, Source and (when the gateway has none) EventId are stamped by Normalize, not here
	wantCode Code
	ignored  bool
}

func readFixture(t testing.TB, gateway, file string) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", gateway, file))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// runFixtures checks every case against the gateway's Normalizer directly.
func runFixtures(t *testing.T, n Normalizer, gateway string, cases []fixtureCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got, err := n.Normalize(readFixture(t, gateway, tc.file))
			switch {
			case tc.ignored:
				if !errors.Is(err, ErrIgnored) {
					t.Fatalf("want ErrIgnored, got payments %v, err %v", got, err)
				}
			case tc.wantCode != "":
				if code := CodeOf(err); code != tc.wantCode {
					t.Fatalf("want DLQ code %q, got code %q (err %v, payments %v)", tc.wantCode, code, err, got)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
					t.Errorf("payment mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// fuzzNormalizer seeds the corpus with every fixture of the gateway and checks
// the property every parser must keep: no panic, and either an error with a
// DLQ code (or ErrIgnored), or Payments that are valid.
func fuzzNormalizer(f *testing.F, n Normalizer, gateway string) {
	files, _ := filepath.Glob(filepath.Join("testdata", gateway, "*.json"))
	for _, file := range files {
		doc, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		payments, err := n.Normalize(doc)
		if err != nil {
			if CodeOf(err) == "" && !errors.Is(err, ErrIgnored) {
				t.Fatalf("error without a DLQ code: %v", err)
			}
			return
		}
		if len(payments) == 0 {
			t.Fatal("no error and no payment")
		}
		for _, p := range payments {
			checkValid(t, p)
		}
	})
}

func checkValid(t *testing.T, p *pb.Payment) {
	t.Helper()
	if p.GetId() == "" {
		t.Fatalf("payment without id: %v", p)
	}
	if p.GetStatus() == pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED {
		t.Fatalf("payment without status: %v", p)
	}
	for _, m := range []*pb.Money{p.GetAmount(), p.GetRefunded()} {
		if m == nil {
			continue
		}
		if _, ok := MinorUnits(m.GetCurrency()); !ok {
			t.Fatalf("unknown currency %q in %v", m.GetCurrency(), p)
		}
		if m.GetAmountMinor() < 0 {
			t.Fatalf("negative amount in %v", p)
		}
	}
	if p.GetAmount() == nil {
		t.Fatalf("payment without amount: %v", p)
	}
}

// fixtureTime is the protobuf Timestamp an expected Payment holds, written as
// an RFC 3339 time (any offset): fixtures carrying Unix seconds or other
// offsets then check the conversion to UTC.
func fixtureTime(t testing.TB, s string) *timestamppb.Timestamp {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return timestamppb.New(v)
}

func fixtureMoney(minor int64, currency string) *pb.Money {
	return &pb.Money{AmountMinor: minor, Currency: currency}
}
