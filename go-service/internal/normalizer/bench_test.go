package normalizer_test

// Benchmarks of the normalizers: `make bench` runs them, or
//
//	go test ./internal/normalizer -run '^$' -bench . -benchmem
//
// BenchmarkNormalizeFixtures replays every fixture of a gateway (valid
// events, events skipped, and the malformed ones that go to the DLQ) through
// normalizer.Normalize, as the ingest stage calls it. BenchmarkNormalizeSynthetic
// uses the producer's realistic stream instead: the records production sees.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

var benchGateways = []pb.Gateway{
	pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY, pb.Gateway_GATEWAY_PAYPAL,
	pb.Gateway_GATEWAY_ADYEN, pb.Gateway_GATEWAY_SQUARE,
}

func BenchmarkNormalizeFixtures(b *testing.B) {
	for _, g := range benchGateways {
		name := normalizer.GatewayName(g)
		files, err := filepath.Glob(filepath.Join("testdata", name, "*.json"))
		if err != nil || len(files) == 0 {
			b.Fatalf("no fixtures for %s: %v", name, err)
		}
		recs := make([]normalizer.Record, 0, len(files))
		for _, f := range files {
			doc, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, normalizer.Record{Topic: "payments.raw." + name, GatewayHeader: name, Value: doc})
		}
		b.Run(name, func(b *testing.B) { benchRecords(b, recs) })
	}
}

func BenchmarkNormalizeSynthetic(b *testing.B) {
	for _, g := range benchGateways {
		name := normalizer.GatewayName(g)
		gen, err := synthetic.New(synthetic.Options{Seed: 1, Gateways: []pb.Gateway{g}, Mix: synthetic.MixRealistic, InvalidRate: 0.01})
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]normalizer.Record, 0, 1000)
		for range 1000 {
			r, err := gen.Next()
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, normalizer.Record{Topic: "payments.raw." + name, GatewayHeader: r.Header, Value: r.Value})
		}
		b.Run(name, func(b *testing.B) { benchRecords(b, recs) })
	}
}

// benchRecords normalizes recs round-robin; one op is one record. Errors are
// expected (DLQ fixtures) and are part of the cost.
func benchRecords(b *testing.B, recs []normalizer.Record) {
	var size int64
	for _, r := range recs {
		size += int64(len(r.Value))
	}
	b.SetBytes(size / int64(len(recs)))
	b.ReportAllocs()
	payments := 0
	i := 0
	for b.Loop() {
		ps, _ := normalizer.Normalize(recs[i])
		payments += len(ps)
		i++
		if i == len(recs) {
			i = 0
		}
	}
	b.ReportMetric(float64(payments)/float64(b.N), "payments/record")
}
