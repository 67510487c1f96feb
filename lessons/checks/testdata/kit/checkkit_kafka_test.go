package checkkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// checkkitKafka returns the broker's address; without a broker the test is
// skipped, or fails under REQUIRE_KAFKA=1.
func checkkitKafka(t *testing.T) string {
	t.Helper()
	bootstrap := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if bootstrap == "" {
		bootstrap = "127.0.0.1:9092"
	}
	c, err := net.DialTimeout("tcp", strings.Split(bootstrap, ",")[0], 2*time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatalf("no Kafka at %s: start it (make kafka-up) and check again", bootstrap)
		}
		t.Skipf("no Kafka at %s: this checkpoint needs it (make kafka-up)", bootstrap)
	}
	c.Close()
	return bootstrap
}

// checkkitTopic names a topic that only this run of a test uses:
// lessoncheck<name>-<nanoseconds>, name being the checkpoint's (05, 08s…).
func checkkitTopic(name string) string {
	return fmt.Sprintf("lessoncheck%s-%d", name, time.Now().UnixNano())
}

// checkkitDeleteTopics deletes the topics when the test ends, so that the
// shared broker does not collect them.
func checkkitDeleteTopics(t *testing.T, bootstrap string, topics ...string) {
	t.Cleanup(func() {
		if admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": bootstrap}); err == nil {
			admin.DeleteTopics(context.Background(), topics)
			admin.Close()
		}
	})
}
