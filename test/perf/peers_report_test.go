package perf

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"
)

// The targets of setwarden against each peer engine, as ratios measured in
// the same run: its added create p99, its CPU per admission and its
// resident memory at most these fractions of the peer's.
const (
	peerLatencyRatio = 0.5
	peerCPURatio     = 0.3
	peerRSSRatio     = 0.3
)

// armLabel names an arm in the table.
func armLabel(name string) string {
	switch name {
	case "none":
		return "no admission"
	case "native":
		return "native policies"
	case "kyverno":
		return "Kyverno"
	case "gatekeeper":
		return "Gatekeeper"
	}
	return name
}

// z975 is the standard normal quantile of 0.9875: two intervals of 97.5 %
// each hold together at least 95 % of the time.
const z975 = 2.241

// percentileInterval is a distribution-free interval of the q-th
// percentile of r's latencies (sorted): the order statistics at ranks
// n·p ± z·√(n·p·(1−p)), the normal approximation of the binomial count
// of samples below the true percentile.
func percentileInterval(r *Result, q float64) (lo, hi time.Duration) {
	n := len(r.latencies)
	if n == 0 {
		return 0, 0
	}
	p := q / 100
	half := z975 * math.Sqrt(float64(n)*p*(1-p))
	i := max(0, int(math.Floor(float64(n)*p-half)))
	j := min(n-1, int(math.Ceil(float64(n)*p+half)))
	return r.latencies[i], r.latencies[j]
}

// addedPercentile is the q-th percentile of arm a's create latency minus
// that of no admission, in ms, with a 95 % interval made of the two
// percentiles' 97.5 % intervals.
func addedPercentile(a, none *apiArm, q float64) (v, lo, hi float64) {
	ra, rn := a.all.result(a.elapsed), none.all.result(none.elapsed)
	aLo, aHi := percentileInterval(ra, q)
	nLo, nHi := percentileInterval(rn, q)
	return ms(ra.Percentile(q)) - ms(rn.Percentile(q)), ms(aLo) - ms(nHi), ms(aHi) - ms(nLo)
}

// reportEngines emits, per arm, the CPU its policy engine and kube-apiserver
// spent per 1,000 creates in the measured windows, the engine's resident
// memory idle and after the run and its time from start to ready, then
// setwarden's ratios to each peer engine with their targets.
func reportEngines(t *testing.T, arms []*apiArm) {
	t.Helper()
	byName := map[string]*apiArm{}
	for _, a := range arms {
		byName[a.name] = a
		creates := float64(a.all.sent.Load())
		if creates == 0 {
			continue
		}
		per1k := func(d time.Duration) float64 { return d.Seconds() * 1000 / creates }
		if a.pid != 0 {
			emit(t, Record{Target: 3, Figure: armLabel(a.name) + " engine CPU per 1,000 creates", Value: per1k(a.cpu), Unit: "s",
				Note: fmt.Sprintf("its own process, %.0f creates (half StatefulSets, half agent DaemonSets)", creates)})
			emit(t, Record{Target: 3, Figure: armLabel(a.name) + " RSS idle", Value: a.idleRSS.rssMiB, Unit: "MiB",
				Note: fmt.Sprintf("%s; binary %.0f MiB; policies loaded, %s after the verdict check", residentSplit(a.idleRSS), fileMiB(a.bin), settle)})
			emit(t, Record{Target: 3, Figure: armLabel(a.name) + " RSS after the run", Value: a.afterRSS.rssMiB, Unit: "MiB",
				Note: residentSplit(a.afterRSS)})
			emit(t, Record{Target: 3, Figure: armLabel(a.name) + " start to ready", Value: ms(a.ready), Unit: "ms",
				Note: "process start to its readiness probe's first success"})
		}
		note := "encoding reviews, calling webhooks, applying patches"
		switch a.name {
		case "none":
			note = "the creates alone"
		case "native":
			note = "the native policies run here"
		}
		emit(t, Record{Target: 3, Figure: "kube-apiserver CPU per 1,000 creates, " + armLabel(a.name), Value: per1k(a.apiCPU), Unit: "s", Note: note})
	}
	sw := byName["setwarden"]
	if sw == nil {
		return
	}
	none := byName["none"]
	swP99, _, _ := addedPercentile(sw, none, 99)
	for _, name := range []string{"kyverno", "gatekeeper"} {
		peer := byName[name]
		if peer == nil {
			emit(t, Record{Target: 3, Figure: "setwarden/" + armLabel(name), Unit: "×", Note: "not measured: " + name + " is not built (make peers)"})
			continue
		}
		label := "setwarden/" + armLabel(name)
		peerP99, _, _ := addedPercentile(peer, none, 99)
		ratio(t, label+" added p99", swP99, peerP99, peerLatencyRatio)
		ratio(t, label+" engine CPU per create", 1000*sw.cpu.Seconds()/float64(sw.all.sent.Load()), 1000*peer.cpu.Seconds()/float64(peer.all.sent.Load()), peerCPURatio)
		ratio(t, label+" RSS idle", sw.idleRSS.rssMiB, peer.idleRSS.rssMiB, peerRSSRatio)
		ratio(t, label+" RSS after the run", sw.afterRSS.rssMiB, peer.afterRSS.rssMiB, peerRSSRatio)
		ratio(t, label+" start to ready", ms(sw.ready), ms(peer.ready), 0)
	}
}

// residentSplit says what a resident set is made of: anonymous memory
// (heap, stacks) and mapped files (mostly the binary's pages).
func residentSplit(m memoryFigures) string {
	return fmt.Sprintf("RssAnon %.1f, RssFile %.1f MiB, VmHWM %.1f MiB", m.anonMiB, m.fileMiB, m.hwmMiB)
}

// fileMiB is the size of a file, 0 if unknown.
func fileMiB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

// ratio emits a/b, or says why it is undefined.
func ratio(t *testing.T, figure string, a, b, limit float64) {
	t.Helper()
	if b <= 0 {
		emit(t, Record{Target: 3, Figure: figure, Unit: "×", Note: fmt.Sprintf("undefined: the peer's figure is %.3f", b)})
		return
	}
	emit(t, Record{Target: 3, Figure: figure, Value: a / b, Unit: "×", Limit: limit, Note: fmt.Sprintf("%.3f vs %.3f", a, b)})
}
