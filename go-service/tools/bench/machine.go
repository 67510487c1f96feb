package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

type machine struct {
	NumCPU     int     `json:"nproc"`
	CPUModel   string  `json:"cpu_model"`
	MemGiB     float64 `json:"memory_gib"`
	Kernel     string  `json:"kernel"`
	GoVersion  string  `json:"go"`
	Java       string  `json:"java"`
	Kafka      string  `json:"kafka"`
	Librdkafka string  `json:"librdkafka"`
	LoadStart  string  `json:"load_average_start"`
	LoadEnd    string  `json:"load_average_end"`
}

func machineInfo(kafkaSh string) machine {
	m := machine{NumCPU: runtime.NumCPU(), GoVersion: strings.TrimPrefix(runtime.Version(), "go")}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb := meminfo("MemTotal"); kb > 0 {
		m.MemGiB = float64(kb) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		m.Java = strings.ReplaceAll(strings.TrimSpace(first), `"`, "")
	}
	m.Kafka = kafkaVersion(kafkaSh)
	_, m.Librdkafka = ckafka.LibraryVersion()
	return m
}

// kafkaVersion reads the pinned version from the pom next to kafka.sh.
func kafkaVersion(kafkaSh string) string {
	b, err := os.ReadFile(strings.TrimSuffix(kafkaSh, "kafka.sh") + "pom.xml")
	if err != nil {
		return "?"
	}
	if m := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "?"
}

func meminfo(key string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
