// Command benchtable prints setwarden's performance table: `benchtable start`
// records the machine (and its load average) before the run; `benchtable
// print` reads the figures the performance tests appended to the same file
// and target 1's `go test -bench` output, and prints one table with a
// verdict per figure. Verdicts are printed, never asserted: `make bench`
// fails only when a measurement could not be taken.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/setwarden/setwarden/test/perf"
)

// decisionLimit is target 1: a full decision costs at most this many bare
// json.Unmarshal calls of the same review.
const decisionLimit = 1.5

func main() {
	out := flag.String("out", os.Getenv(perf.OutEnv), "the JSON lines file of figures")
	bench := flag.String("decision", "", "`go test -bench` output of ./webhook (target 1)")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchtable -out FILE start | benchtable -out FILE [-decision FILE] print")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *bench); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(cmd, out, bench string) error {
	switch cmd {
	case "start":
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return err
		}
		os.Setenv(perf.OutEnv, out)
		return perf.EmitMachine()
	case "print":
		recs, machine, err := perf.ReadRecords(out)
		if err != nil {
			return err
		}
		if bench != "" {
			decision, err := decisionRecords(bench)
			if err != nil {
				return err
			}
			recs = append(decision, recs...)
		}
		printTable(os.Stdout, recs, machine)
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// decisionRecords turns BenchmarkDecisionRatio's interleaved measurements
// into target 1's ratios, per sub-benchmark, from the median of the runs;
// BenchmarkDecision and BenchmarkBareDecode give the allocations.
func decisionRecords(path string) ([]perf.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	results := map[string]map[string][]float64{} // benchmark → unit → runs
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, metrics, ok := parseBenchLine(sc.Text())
		if !ok {
			continue
		}
		if results[name] == nil {
			results[name] = map[string][]float64{}
			names = append(names, name)
		}
		for unit, v := range metrics {
			results[name][unit] = append(results[name][unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var recs []perf.Record
	for _, name := range names {
		sub, ok := strings.CutPrefix(name, "BenchmarkDecisionRatio/")
		r := results[name]
		if !ok || len(r["decision/bare"]) == 0 {
			continue
		}
		allocs := ""
		if d, b := results["BenchmarkDecision/"+sub], results["BenchmarkBareDecode/"+sub]; d != nil && b != nil {
			allocs = fmt.Sprintf(", %.0f vs %.0f allocs/op", median(d["allocs/op"]), median(b["allocs/op"]))
		}
		recs = append(recs, perf.Record{Target: 1, Figure: "decision / bare decode, " + sub, Unit: "×", Limit: decisionLimit,
			Value: median(r["decision/bare"]),
			Note: fmt.Sprintf("%.1f vs %.1f µs interleaved%s, median of %d",
				median(r["decision-ns/op"])/1000, median(r["bare-ns/op"])/1000, allocs, len(r["decision/bare"]))})
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no BenchmarkDecisionRatio results", path)
	}
	return recs, nil
}

// parseBenchLine reads a `go test -bench -benchmem` result line into its
// metrics by unit (ns/op, allocs/op, custom ones); the -N GOMAXPROCS
// suffix is dropped from the name.
func parseBenchLine(line string) (name string, metrics map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", nil, false
	}
	name = f[0]
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	metrics = map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		if v, err := strconv.ParseFloat(f[i], 64); err == nil {
			metrics[f[i+1]] = v
		}
	}
	_, ok = metrics["ns/op"]
	return name, metrics, ok
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// printTable prints the machine and one row per figure, ordered by target.
func printTable(w io.Writer, recs []perf.Record, m *perf.Machine) {
	fmt.Fprintln(w, "setwarden performance")
	if m != nil {
		fmt.Fprintf(w, "machine: %d CPUs, %s; load average at start %s; %s\n", m.CPUs, m.CPUModel, m.LoadAvg, m.Go)
	}
	fmt.Fprintln(w)
	slices.SortStableFunc(recs, func(a, b perf.Record) int { return a.Target - b.Target })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tfigure\tvalue\ttarget\tratio\tverdict\tnote")
	met, missed := 0, 0
	for _, r := range recs {
		target, ratio, verdict := "", "", ""
		if r.Limit != 0 {
			op := "≤"
			if r.AtLeast {
				op = "≥"
			}
			target = fmt.Sprintf("%s %s %s", op, trim(r.Limit), r.Unit)
			ratio = fmt.Sprintf("%.2f", r.Value/r.Limit)
			if r.Met() {
				verdict, met = "met", met+1
			} else {
				verdict, missed = "MISSED", missed+1
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s %s\t%s\t%s\t%s\t%s\n", r.Target, r.Figure, trim(r.Value), r.Unit, target, ratio, verdict, r.Note)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d figures met their target, %d missed (ratio: value / target)\n", met, missed)
}

// trim formats v with at most three decimals and no trailing zeros.
func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
