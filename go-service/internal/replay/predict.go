package replay

import (
	"errors"
	"fmt"
	"strings"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/money"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
)

// Outcomes of the dry run besides a DLQ code.
const (
	OutcomePayment = "payment" // today's normalizer makes payments of it
	OutcomeIgnored = "ignored" // valid, but carries no payment change
)

// Prediction is what today's normalizer does with a dead letter's bytes,
// read as if they came from their raw topic again.
type Prediction struct {
	Outcome string // OutcomePayment, OutcomeIgnored or a DLQ code
	Detail  string // the payments, or the reason
}

// Predict runs today's normalizer on a dead letter as the ingest stage would
// after a replay: same bytes, same source topic, same gateway header.
func Predict(value []byte, info deadletter.Info, raw []ckafka.Header) Prediction {
	gateway, _ := deadletter.Value(raw, deadletter.HeaderGateway)
	payments, err := normalizer.Normalize(normalizer.Record{
		Topic: info.Topic, Partition: max(info.Partition, 0), Offset: max(info.Offset, 0),
		GatewayHeader: gateway, Value: value,
	})
	switch {
	case errors.Is(err, normalizer.ErrIgnored):
		return Prediction{Outcome: OutcomeIgnored, Detail: err.Error()}
	case err != nil:
		code := string(normalizer.CodeOf(err))
		if code == "" {
			code = string(normalizer.CodeMalformedJSON)
		}
		return Prediction{Outcome: code, Detail: err.Error()}
	}
	parts := make([]string, 0, len(payments))
	for _, p := range payments {
		parts = append(parts, fmt.Sprintf("%s | %s | %s | %s", p.GetId(),
			money.Format(p.GetAmount().GetAmountMinor(), p.GetAmount().GetCurrency()),
			strings.ToUpper(normalizer.GatewayName(p.GetGateway())), strings.TrimPrefix(p.GetStatus().String(), "PAYMENT_STATUS_")))
	}
	return Prediction{Outcome: OutcomePayment, Detail: strings.Join(parts, "; ")}
}
