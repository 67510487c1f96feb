// Command topics lists or deletes Kafka topics. The TypeScript and browser
// tests delete the topics of a test that passed with it (a failed test keeps
// them, as the Go tests do), and it shows what a shared broker holds:
//
//	go run ./tools/topics -list -prefix ts-
//	go run ./tools/topics -delete ts-a.payments.raw,ts-a.payments.events
//
// It is a tool for tests and development, not part of the service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
)

type settings struct {
	kafka  config.Kafka
	list   bool
	prefix string
	delete []string
}

func main() {
	logging.Main("topics", config.ErrHelp, func(args []string) error { return run(os.Stdout, args) })
}

func parse(args []string) (settings, error) {
	var s settings
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("topics", "Lists or deletes Kafka topics (the tests delete theirs with it).")
	set.Kafka(&s.kafka)
	var names string
	set.Bool(&s.list, "list", "", false, "print the names of the topics, one a line, sorted (internal topics left out)")
	set.String(&s.prefix, "prefix", "", "", "with -list: only the names that start with it")
	set.String(&names, "delete", "", "", "delete these topics, comma-separated; one that does not exist is no error")
	set.Check(func() error {
		s.delete = config.SplitList(names)
		if s.list == (len(s.delete) > 0) {
			return errors.New("give either -list or -delete NAME[,NAME...] (run with -h for help)")
		}
		return nil
	})
	return s, set.Parse(args)
}

func run(out io.Writer, args []string) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if len(s.delete) > 0 {
		return kafka.DeleteTopics(ctx, s.kafka, s.delete)
	}
	names, err := list(s.kafka, s.prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(out, n)
	}
	return nil
}

// list returns the names of the cluster's topics that start with prefix,
// sorted, without Kafka's internal ones (__consumer_offsets, ...).
func list(k config.Kafka, prefix string) ([]string, error) {
	admin, err := kafka.NewAdminClient(k, nil)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 30000)
	if err != nil {
		return nil, fmt.Errorf("list topics at %s: %w", k.BootstrapServers, err)
	}
	var names []string
	for name := range md.Topics {
		if strings.HasPrefix(name, prefix) && !strings.HasPrefix(name, "__") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}
