package kafka

import (
	"log/slog"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// HandleEvent is the part of a consumer's poll loop every consumer shares:
// a record goes to onMessage; a consume error or a transient client error
// (broker down, coordinator moving: librdkafka reconnects by itself) is
// logged; a fatal client error is returned, the consumer is done.
func HandleEvent(ev ckafka.Event, log *slog.Logger, onMessage func(*ckafka.Message)) error {
	switch e := ev.(type) {
	case *ckafka.Message:
		if e.TopicPartition.Error != nil {
			log.Warn("consume error", "err", e.TopicPartition.Error)
			return nil
		}
		onMessage(e)
	case ckafka.Error:
		if e.IsFatal() {
			return e
		}
		log.Warn("consumer: "+e.Error(), "code", e.Code().String())
	}
	return nil
}
