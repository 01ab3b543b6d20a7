package perf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// OutEnv names the file the performance tests append their figures to, one
// JSON Record a line; `make bench` prints the table from it.
const OutEnv = "SETWARDEN_PERF_OUT"

// Record is one figure of the performance table that `make bench` prints.
type Record struct {
	// Target is the number of the measurement the figure belongs to: 1
	// decision cost, 2 webhook over TLS, 3 creates through kube-apiserver,
	// 4 memory, 5 start-up, 6 audit (one-shot and --watch).
	Target int `json:"target"`
	// Figure says what was measured, such as "setwarden added p99".
	Figure string `json:"figure"`
	// Value is the measurement, in Unit.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Limit is the target's bound in Unit; 0 makes the figure informative,
	// without a verdict.
	Limit float64 `json:"limit,omitempty"`
	// AtLeast makes Limit a minimum (throughput) rather than a maximum.
	AtLeast bool `json:"atLeast,omitempty"`
	// Note is shown after the figure: the context needed to read it.
	Note string `json:"note,omitempty"`
}

// Met reports whether the figure meets its limit.
func (r Record) Met() bool {
	if r.AtLeast {
		return r.Value >= r.Limit
	}
	return r.Value <= r.Limit
}

// Machine describes where the figures were taken: the table is meaningless
// without it on shared, loaded machines.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages at the start.
	LoadAvg string `json:"loadAvg"`
	Go      string `json:"go"`
}

// line is one line of the output file: a figure or the machine.
type line struct {
	Record  *Record  `json:"record,omitempty"`
	Machine *Machine `json:"machine,omitempty"`
}

// Emit prints the record and, when OutEnv is set, appends it to that file.
func Emit(r Record) error {
	limit := ""
	if r.Limit != 0 {
		limit = fmt.Sprintf(" (target %s %g)", map[bool]string{false: "≤", true: "≥"}[r.AtLeast], r.Limit)
	}
	fmt.Printf("perf: target %d: %s: %.3f %s%s %s\n", r.Target, r.Figure, r.Value, r.Unit, limit, r.Note)
	return appendLine(line{Record: &r})
}

// EmitMachine appends this machine's description to OutEnv's file.
func EmitMachine() error {
	m := CurrentMachine()
	return appendLine(line{Machine: &m})
}

func appendLine(l line) error {
	path := os.Getenv(OutEnv)
	if path == "" {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadRecords reads a file written by Emit and EmitMachine. The last
// machine line wins.
func ReadRecords(path string) ([]Record, *Machine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	var machine *Machine
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		switch {
		case l.Record != nil:
			recs = append(recs, *l.Record)
		case l.Machine != nil:
			machine = l.Machine
		}
	}
	return recs, machine, sc.Err()
}

// CurrentMachine describes this machine from /proc.
func CurrentMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", LoadAvg: "unknown", Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}
