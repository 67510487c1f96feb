package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
)

func TestParse(t *testing.T) {
	t.Setenv("ENV_FILE", "/nonexistent")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "nothing to do", args: nil, wantErr: "give either -list or -delete"},
		{name: "both", args: []string{"-list", "-delete", "a"}, wantErr: "give either -list or -delete"},
		{name: "delete of nothing", args: []string{"-delete", " , "}, wantErr: "give either -list or -delete"},
		{name: "list", args: []string{"-list", "-prefix", "ts-"}},
		{name: "delete", args: []string{"-delete", "a,b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.args)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("parse(%q) = %v; want %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

func TestListAndDelete(t *testing.T) {
	k := kafkatest.Config(t)
	t.Setenv("ENV_FILE", "/nonexistent")
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", k.BootstrapServers)
	prefix := kafkatest.Name(t, "topics") + "."
	topics := []string{prefix + "a", prefix + "b", prefix + "c"}
	kafkatest.DeleteTopicsAfter(t, k, topics...)
	if err := kafka.EnsureTopics(context.Background(), k, topics); err != nil {
		t.Fatal(err)
	}
	listed := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := run(&out, []string{"-list", "-prefix", prefix}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got, want := listed(), strings.Join(topics, "\n")+"\n"; got != want {
		t.Fatalf("-list -prefix %s printed %q; want %q", prefix, got, want)
	}
	// A name that does not exist is no error: a clean-up may run twice.
	if err := run(&bytes.Buffer{}, []string{"-delete", topics[0] + "," + topics[1] + "," + prefix + "never-created"}); err != nil {
		t.Fatal(err)
	}
	// Deletion is asynchronous in the broker: the metadata may list a deleted
	// topic for a moment.
	deadline := time.Now().Add(30 * time.Second)
	for got := listed(); got != topics[2]+"\n"; got = listed() {
		if time.Now().After(deadline) {
			t.Fatalf("-list printed %q 30 s after -delete; want only %s", got, topics[2])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
