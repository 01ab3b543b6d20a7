package fidelity

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// apiWorkers is the number of concurrent dry-run requests.
const apiWorkers = 8

// cause is one field error, as the API server's status cause or as
// setwarden's finding.
type cause struct {
	Field, Type, Message string
}

func (c cause) String() string { return fmt.Sprintf("%s: %s: %s", c.Field, c.Type, c.Message) }

// verdicts are the two sides' field errors for one variant; unexpected is
// an API server error that is not a field validation error.
type verdicts struct {
	server, engine []cause
	unexpected     error
}

// agree reports whether both sides found the same errors: same paths and
// types and, since setwarden ports the API server's own wording, the same
// messages. Order does not matter: the API server visits maps randomly.
func (v verdicts) agree() bool {
	return v.unexpected == nil && slices.Equal(v.server, v.engine)
}

// serverCauses dry-runs the creation of obj and returns the field errors
// the API server rejects it with.
func serverCauses(ctx context.Context, c client.Client, obj client.Object) ([]cause, error) {
	err := c.Create(ctx, obj, client.DryRunAll)
	if err == nil {
		return nil, nil
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Reason != metav1.StatusReasonInvalid || status.Status().Details == nil {
		return nil, err
	}
	var causes []cause
	for _, c := range status.Status().Details.Causes {
		causes = append(causes, cause{Field: c.Field, Type: string(c.Type), Message: c.Message})
	}
	return sortCauses(causes), nil
}

// engineCauses returns setwarden's affinity-invalid and toleration-invalid
// findings for obj, as the offline CLI evaluates it.
func engineCauses(ctx context.Context, obj client.Object) []cause {
	report := policies.NewEngine(nil).Evaluate(ctx, policies.Request{Object: obj, Mode: policies.ModeOffline})
	var causes []cause
	for _, f := range report.Findings {
		if f.Rule == policies.RuleAffinityInvalid || f.Rule == policies.RuleTolerationInvalid {
			causes = append(causes, cause{Field: f.Err.Field, Type: string(f.Err.Type), Message: f.Err.ErrorBody()})
		}
	}
	return sortCauses(causes)
}

func sortCauses(causes []cause) []cause {
	slices.SortFunc(causes, func(a, b cause) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Message, b.Message))
	})
	return causes
}

// runAPIVariants computes both verdicts for every variant, concurrently.
func runAPIVariants(ctx context.Context, c client.Client, variants []Variant) []verdicts {
	results := make([]verdicts, len(variants))
	next := make(chan int)
	var wg sync.WaitGroup
	for range apiWorkers {
		wg.Go(func() {
			for i := range next {
				// The engine reads the object before the client decodes
				// the server's answer into it.
				engine := engineCauses(ctx, variants[i].Object)
				server, err := serverCauses(ctx, c, variants[i].Object.DeepCopyObject().(client.Object))
				results[i] = verdicts{server: server, engine: engine, unexpected: err}
			}
		})
	}
	for i := range variants {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// TestAPIServerAgreement is the first differential test: the API server
// rejects a variant exactly when setwarden reports affinity-invalid or
// toleration-invalid, with the same field errors.
func TestAPIServerAgreement(t *testing.T) {
	c := apiServer(t)
	variants := apiVariants()
	start := time.Now()
	results := runAPIVariants(t.Context(), c, variants)
	elapsed := time.Since(start)

	agreed, rejected := 0, 0
	var report []string
	for i, v := range results {
		if len(v.server) > 0 {
			rejected++
		}
		if v.agree() {
			agreed++
			continue
		}
		if len(report) < 20 {
			report = append(report, describeDisagreement(variants[i], v))
		}
	}
	t.Logf("agreement %d/%d (%.2f%%) in %s; the API server rejected %d variants and accepted %d",
		agreed, len(variants), 100*float64(agreed)/float64(len(variants)), elapsed.Round(time.Second), rejected, len(variants)-rejected)
	if agreed != len(variants) {
		t.Errorf("%d variants disagree; the first ones:\n%s", len(variants)-agreed, strings.Join(report, "\n"))
	}
}

// describeDisagreement renders one disagreement with the variant's pod spec.
func describeDisagreement(v Variant, r verdicts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s (%T)\n", v.Name, v.Object)
	if r.unexpected != nil {
		fmt.Fprintf(&b, "unexpected API server error: %v\n", r.unexpected)
	}
	for _, c := range r.server {
		fmt.Fprintf(&b, "  API server: %s\n", c)
	}
	for _, c := range r.engine {
		fmt.Fprintf(&b, "  setwarden:  %s\n", c)
	}
	if spec, err := yaml.Marshal(podSpecOf(v.Object)); err == nil {
		fmt.Fprintf(&b, "%s", spec)
	}
	return b.String()
}

// podSpecOf returns the affinity and tolerations of a variant's pod spec.
func podSpecOf(obj client.Object) any {
	w, ok := policies.NewWorkload(obj)
	if !ok {
		return obj
	}
	return map[string]any{"affinity": w.PodSpec.Affinity, "tolerations": w.PodSpec.Tolerations}
}
