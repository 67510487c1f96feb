package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// lesson is one checkpoint: what it is about, the probes that name a missing
// piece before any test runs, and hints that translate build errors.
type lesson struct {
	Title  string
	Probes []probe
	Hints  []hint
}

// probe looks for a file, and optionally a pattern in it. Say is the
// plain-words problem when it is not there.
type probe struct {
	File    string
	Pattern *regexp.Regexp
	Say     string
}

type hint struct {
	Pattern *regexp.Regexp
	Say     string
}

// check returns "" when the probe finds what it looks for. File may be a
// glob (internal/normalizer/*_test.go): then any matching file will do.
func (p probe) check(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, p.File))
	if len(files) == 0 {
		return fmt.Sprintf("%s not found (the lesson creates it): %s", p.File, p.Say)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && (p.Pattern == nil || p.Pattern.Match(data)) {
			return ""
		}
	}
	return fmt.Sprintf("%s: %s", p.File, p.Say)
}

func file(path, say string) probe { return probe{File: path, Say: say} }

func has(path, pattern, say string) probe {
	return probe{File: path, Pattern: regexp.MustCompile(pattern), Say: say}
}

func when(pattern, say string) hint { return hint{Pattern: regexp.MustCompile(pattern), Say: say} }

var lessons = map[string]lesson{
	"02": {
		Title: "a Payment type, an error, a goroutine and a context",
		Probes: []probe{
			has("go-service/internal/payment/payment.go", `type Payment struct`, "no `type Payment struct` — write the Payment type first"),
			has("go-service/internal/payment/payment.go", `func FormatAmount\(`, "no FormatAmount function — it turns 1234, \"USD\" into \"12.34 USD\""),
			has("go-service/internal/payment/payment.go", `ErrInvalidAmount\s*=\s*errors\.New`, "no ErrInvalidAmount sentinel error (var ErrInvalidAmount = errors.New(...))"),
			has("go-service/internal/payment/payment.go", `func Generate\(ctx context\.Context`, "no Generate(ctx context.Context, count int) <-chan Payment — the goroutine and channel part of the lesson"),
			file("go-service/cmd/hello/main.go", "the first program, cmd/hello, is missing"),
		},
		Hints: []hint{
			when(`has no field or method String|Sprint`, "Payment needs a String() string method"),
		},
	},
	"03": {
		Title: "the payment.v1 contract, generated Go code and a Stripe normalizer",
		Probes: []probe{
			has("proto/payment.proto", `package payment\.v1;`, "the contract file needs `package payment.v1;`"),
			has("proto/payment.proto", `message Payment\s*\{`, "no `message Payment` in the contract yet"),
			has("go-service/pb/payment.pb.go", `type Payment struct`, "no generated Go code: run `buf generate proto --template proto/buf.gen.yaml` (lesson 03, Generating code)"),
			has("go-service/internal/normalizer/stripe.go", `func Stripe\(`, "no Stripe(raw []byte) (*pb.Payment, error) function in package normalizer"),
		},
		Hints: []hint{
			when(`undefined: normalizer\.Err(Malformed|NotAPayment)`, "package normalizer needs the two sentinel errors ErrMalformed and ErrNotAPayment"),
			when(`(undefined|no field or method).*(GetEventId|GetCreatedAt|GetUpdatedAt|GetAmount|Gateway_GATEWAY_STRIPE|PaymentStatus_PAYMENT_STATUS)`, "the generated code lacks a field or enum value the lesson adds: check payment.proto against the lesson and run buf generate again"),
			when(`go-service/pb.*(is not in std|cannot find|no required module)`, "package pb cannot be found: is option go_package in payment.proto \"<your module>/pb;pb\"?"),
			when(`(missing go.sum entry|no required module provides package google.golang.org/protobuf)`, "go.mod lacks google.golang.org/protobuf: run `go mod tidy` in go-service"),
		},
	},
	"04": {
		Title: "a gRPC server: StreamPayments and GetPayment",
		Probes: []probe{
			has("proto/payment.proto", `rpc\s+StreamPayments\s*\(`, "no `rpc StreamPayments` in service PaymentService yet"),
			has("proto/payment.proto", `rpc\s+GetPayment\s*\(`, "no `rpc GetPayment` in service PaymentService yet"),
			has("go-service/pb/payment_grpc.pb.go", `StreamPayments`, "no StreamPayments in the generated code: did you run buf generate after adding the rpc (with protoc-gen-go-grpc in proto/buf.gen.yaml)?"),
			has("go-service/internal/grpc/server.go", `(?m)^package grpcserver\b`, "the package in internal/grpc should be called grpcserver (so it does not hide google.golang.org/grpc)"),
			has("go-service/internal/grpc/server.go", `\)\s*StreamPayments\(`, "no StreamPayments method found on Server"),
			has("go-service/internal/grpc/server.go", `\)\s*Publish\(`, "no Publish(p *pb.Payment) method: it is how payments reach the streams"),
			file("go-service/cmd/server/main.go", "cmd/server, the program that listens, is missing"),
		},
		Hints: []hint{
			when(`undefined: grpcserver\.New`, "package grpcserver needs func New() *Server"),
			when(`undefined: pb\.(RegisterPaymentServiceServer|NewPaymentServiceClient)`, "no PaymentService in the generated code — did you run buf generate after adding the service?"),
			when(`missing method (\w+)`, "Server does not implement PaymentService: embed pb.UnimplementedPaymentServiceServer and write the method the compiler names (with the generated signature)"),
		},
	},
	"05": {
		Title: "Kafka: a producer that waits for acks, a consumer that commits after handling",
		Probes: []probe{
			has("go-service/internal/kafka/producer.go", `func NewProducer\(`, "no NewProducer(bootstrap string) (*Producer, error)"),
			has("go-service/internal/kafka/producer.go", `"enable.idempotence":\s*true`, "the producer should set \"enable.idempotence\": true, so its retries never write a record twice"),
			has("go-service/internal/kafka/producer.go", `func EnsureTopic\(`, "no EnsureTopic(ctx, bootstrap, topic string, partitions int) error"),
			has("go-service/internal/kafka/consumer.go", `func NewConsumer\(`, "no NewConsumer(bootstrap, group string, topics []string) (*Consumer, error)"),
			has("go-service/internal/kafka/consumer.go", `\)\s*Run\(ctx context\.Context`, "no (*Consumer).Run(ctx, handle) poll loop"),
			has("go-service/cmd/server/main.go", `NewConsumer\(`, "cmd/server does not read Kafka yet: create a consumer and publish what it normalizes"),
			file("go-service/cmd/producer/main.go", "cmd/producer, which sends webhooks to Kafka, is missing"),
		},
		Hints: []hint{
			when(`confluent-kafka-go.*(no required module|missing go.sum)`, "go.mod lacks confluent-kafka-go: run `go get github.com/confluentinc/confluent-kafka-go/v2@v2.11.1` in go-service"),
			when(`build constraints exclude all Go files.*confluent|undefined: kafka\.(NewConsumer|NewProducer)\b.*\n.*cgo`, "confluent-kafka-go needs cgo: install a C compiler (gcc) and make sure CGO_ENABLED is not 0"),
			when(`cannot use func.*as kafka\.Handler|Run.*not enough arguments|too many arguments in call to \w+\.Run`, "Run should take (ctx context.Context, handle func(context.Context, *kafka.Message) error)"),
		},
	},
	"06": {
		Title: "a TypeScript client that prints [LOG] lines",
		Probes: []probe{
			has("proto/buf.gen.yaml", `protoc-gen-ts_proto`, "add the ts-proto plugin (protoc-gen-ts_proto, out: node-service/src/gen) to buf.gen.yaml"),
			has("node-service/src/gen/payment.ts", `PaymentServiceClient`, "no generated TypeScript client: run buf generate with the ts-proto plugin (outputServices=grpc-js)"),
			has("node-service/src/client.ts", `export function formatPayment`, "client.ts should export formatPayment(p): \"pi_1 STRIPE 12.34 USD COMPLETED\""),
			has("node-service/src/client.ts", `streamPayments`, "client.ts has no streamPayments yet"),
			has("node-service/src/index.ts", `\[LOG\] Payment: `, "index.ts should print each payment as `[LOG] Payment: ...`"),
			file("node-service/package.json", "node-service needs a package.json with @grpc/grpc-js, @bufbuild/protobuf, ts-proto, tsx and typescript"),
		},
	},
	"07": {
		Title: "the three terminals: server, producer and client on real Kafka",
		Probes: []probe{
			has("go-service/cmd/server/main.go", `"topic"`, "cmd/server has no -topic flag: lesson 07 reads settings from the environment (PAYMENTS_TOPIC, …) with flags that override them"),
			has("go-service/cmd/server/main.go", `"group"`, "cmd/server has no -group flag (env KAFKA_GROUP_ID)"),
			has("go-service/cmd/server/main.go", `"addr"`, "cmd/server has no -addr flag (env GRPC_ADDR)"),
			has("go-service/cmd/producer/main.go", `"topic"`, "cmd/producer has no -topic flag (env PAYMENTS_TOPIC)"),
			has("Makefile", `(?m)^client:`, "no Makefile with the three terminals' targets (server, producer, client) in your project's folder"),
		},
	},
	"08": {
		Title: "errors: a dead-letter topic, and a verified webhook receiver that answers after Kafka's ack",
		Probes: []probe{
			has("go-service/internal/kafka/producer.go", `\)\s*DeadLetter\(`, "no (*Producer).DeadLetter(ctx, msg, code, reason) yet"),
			has("go-service/internal/webhook/stripe.go", `func VerifyStripe\(`, "no VerifyStripe(header, body, secret, now, tolerance) in package webhook"),
			has("go-service/internal/webhook/stripe.go", `hmac\.Equal|subtle\.ConstantTimeCompare`, "compare signatures in constant time (hmac.Equal), never with == or bytes.Equal"),
			has("go-service/internal/webhook/stripe.go", `func NewStripeHandler\(`, "no NewStripeHandler(secret, topic, sender) http.Handler"),
			has("go-service/cmd/server/main.go", `DeadLetter\(`, "cmd/server does not dead-letter malformed records yet"),
			has("go-service/cmd/server/main.go", `"webhook-addr"`, "cmd/server has no -webhook-addr flag (env WEBHOOK_ADDR) for its webhook receiver"),
		},
		Hints: []hint{
			when(`does not implement webhook\.Sender`, "*kafka.Producer should satisfy webhook.Sender: Send(ctx, topic string, key, value []byte) error"),
		},
	},
	"09": {
		Title: "testing: a fuzz target with seeds, Kafka integration tests that obey REQUIRE_KAFKA",
		Probes: []probe{
			has("go-service/internal/normalizer/*_test.go", `func FuzzStripe\(f \*testing\.F\)`, "no FuzzStripe(f *testing.F) fuzz target for the Stripe normalizer"),
			has("go-service/internal/kafka/*_test.go", `REQUIRE_KAFKA`, "no test in internal/kafka that follows the REQUIRE_KAFKA rule (skip without a broker, fail instead when REQUIRE_KAFKA is set)"),
		},
	},
	"10x": {
		Title: "exercise: health that says NOT_SERVING first, then a graceful, bounded stop",
		Probes: []probe{
			has("go-service/cmd/server/main.go", `RegisterHealthServer\(`, "cmd/server registers no health service: health.NewServer() and healthpb.RegisterHealthServer(g, hs)"),
			has("go-service/cmd/server/main.go", `GracefulStop\(`, "cmd/server does not call GracefulStop: let the calls in flight finish (with a bound) instead of g.Stop()"),
			has("go-service/internal/grpc/server.go", `\)\s*Shutdown\(`, "no (*Server).Shutdown() in internal/grpc: it ends open streams with UNAVAILABLE, so GracefulStop need not wait for them"),
		},
		Hints: []hint{
			when(`grpc_health_v1.*(no required module|missing go.sum)`, "the health service is in google.golang.org/grpc (package google.golang.org/grpc/health/grpc_health_v1): run `go mod tidy` in go-service"),
		},
	},
	"02x": {
		Title: "exercise: two more currencies, ISK and TND, test-first",
		Probes: []probe{
			has("go-service/internal/payment/*_test.go", `"ISK"`, "no test row for ISK yet: add one for ISK and one for TND to TestFormatAmount first, and watch them fail"),
			has("go-service/internal/payment/payment.go", `"TND"`, "FormatAmount does not know TND yet: ISK has no minor digits, TND has three"),
		},
	},
	"05x": {
		Title: "exercise: drop the duplicates, a seen type in cmd/server",
		Probes: []probe{
			has("go-service/cmd/server/*.go", `(?m)^type seen\b`, "no `type seen` in cmd/server yet (a map from payment id to the last status published)"),
			has("go-service/cmd/server/*_test.go", `\.first\(`, "no test of seen.first yet: write a table-driven one first, in cmd/server"),
			has("go-service/cmd/server/main.go", `\.first\(`, "the handler in cmd/server does not ask seen.first before srv.Publish yet"),
		},
		Hints: []hint{
			when(`undefined: seen`, "cmd/server needs `type seen map[string]pb.PaymentStatus` (or another type that works as an empty seen{})"),
			when(`has no field or method first`, "seen needs a method first(p *pb.Payment) bool"),
		},
	},
	"06x": {
		Title: "exercise: watch one gateway, parseGateways in the client",
		Probes: []probe{
			has("node-service/src/client.ts", `export function parseGateways\(`, "client.ts should export parseGateways(names: string[]): Gateway[]"),
			has("node-service/test/*.ts", `parseGateways`, "no test of parseGateways yet: write it first, and watch it fail"),
			has("node-service/src/index.ts", `parseGateways\(`, "index.ts does not pass parseGateways(process.argv.slice(3)) in the request yet"),
		},
	},
	"03x": {
		Title: "exercise: a second gateway, Razorpay, test-first with fixtures",
		Probes: []probe{
			has("go-service/internal/normalizer/razorpay.go", `func Razorpay\(`, "no Razorpay(raw []byte) (*pb.Payment, error) in package normalizer"),
			has("go-service/internal/normalizer/*_test.go", `Razorpay\(`, "no test of Razorpay yet: write it first, against fixtures in testdata/razorpay"),
			file("go-service/internal/normalizer/testdata/razorpay/*.json", "no Razorpay fixtures in testdata/razorpay"),
		},
	},
	"08x": {
		Title: "exercise: a second gateway's signature, Razorpay's X-Razorpay-Signature, test-first",
		Probes: []probe{
			has("go-service/internal/webhook/razorpay.go", `func VerifyRazorpay\(`, "no VerifyRazorpay(signature string, body []byte, secrets ...string) error in package webhook"),
			has("go-service/internal/webhook/razorpay.go", `func SignRazorpay\(`, "no SignRazorpay(body []byte, secret string) string: the hex HMAC-SHA256 your test (and a producer) signs with"),
			has("go-service/internal/webhook/razorpay.go", `hmac\.Equal|subtle\.ConstantTimeCompare`, "compare signatures in constant time (hmac.Equal), never with == or bytes.Equal"),
			has("go-service/internal/webhook/*_test.go", `VerifyRazorpay\(`, "no test of VerifyRazorpay yet: write it first, with a signature computed outside Go (openssl dgst -sha256 -hmac)"),
		},
		Hints: []hint{
			when(`(not enough|too many) arguments in call to webhook\.VerifyRazorpay|cannot use .* as string value in argument to webhook\.VerifyRazorpay`, "VerifyRazorpay should take (signature string, body []byte, secrets ...string): the header's value, the exact bytes, then every secret in use"),
		},
	},
	"04x": {
		Title: "exercise: a new RPC end to end, GetStats",
		Probes: []probe{
			has("proto/payment.proto", `rpc\s+GetStats\s*\(`, "no `rpc GetStats(GetStatsRequest) returns (GetStatsResponse)` in the service"),
			has("proto/payment.proto", `map<string,\s*int64>\s+payments_by_gateway\s*=\s*1;`, "GetStatsResponse needs map<string, int64> payments_by_gateway = 1 (and the other counters, with the contract's numbers)"),
			has("go-service/pb/payment_grpc.pb.go", `GetStats`, "no GetStats in the generated code: run buf generate after adding the rpc"),
			has("go-service/internal/grpc/server.go", `\)\s*GetStats\(`, "no GetStats method on Server yet"),
		},
		Hints: []hint{
			when(`GetPaymentsTotal|GetPaymentsByStatus|GetTotalsByCurrency`, "GetStatsResponse lacks a field: payments_by_gateway = 1, payments_by_status = 2, totals_by_currency = 3, payments_total = 8"),
		},
	},
	"07x": {
		Title: "exercise: the client reads GRPC_ADDR too, and an argument still wins",
		Probes: []probe{
			has("node-service/src/*.ts", `GRPC_ADDR`, "the client does not read GRPC_ADDR yet: take the address from the first argument, else process.env.GRPC_ADDR, else 127.0.0.1:50051"),
			has("node-service/test/*.test.ts", `GRPC_ADDR`, "no test of the address rule yet: write it first (test/address.test.ts, serverAddress(args, env))"),
		},
	},
	"09x": {
		Title: "exercise: another gateway, Square, with fixtures and a fuzz target",
		Probes: []probe{
			has("go-service/internal/normalizer/square.go", `func Square\(`, "no Square(raw []byte) (*pb.Payment, error) in package normalizer"),
			file("go-service/internal/normalizer/testdata/square/*.json", "no Square fixtures in testdata/square"),
			has("go-service/internal/normalizer/*_test.go", `Square\(`, "no test of Square yet: write it first, table-driven, against the fixtures in testdata/square"),
			has("go-service/internal/normalizer/*_test.go", `func FuzzSquare\(f \*testing\.F\)`, "no FuzzSquare(f *testing.F) fuzz target, seeded with the fixtures in testdata/square"),
		},
	},
}
