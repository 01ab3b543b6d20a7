// Package native proves that the native admission policies `setwarden
// export` writes give the webhook's verdicts: the same objects go through a
// real kube-apiserver with the exported policies installed and the webhooks
// off, then with the webhooks on and the policies off, and every denial,
// warning and patched object is compared.
package native

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/export"
	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// full runs every generated variant; `go test` alone runs a quick subset.
var full = flag.Bool("native.full", os.Getenv("NATIVE_FULL") == "1", "run the full variant set (also NATIVE_FULL=1)")

const (
	fullVariants  = 2400
	quickVariants = 160
	workers       = 8
)

// testConfig exercises what the export translates: per-namespace actions
// (Deny, Warn, Audit, Off), agent namespaces and a selector with an
// expression, a NoExecute and a PreferNoSchedule taint, exempt namespaces
// and objects exempt by name (variantCases names some objects after them).
// The rules that are not exported are Off, so the webhook's verdicts are
// those of the exported rules alone.
func testConfig() string {
	var b strings.Builder
	b.WriteString(`apiVersion: setwarden.dev/v1alpha1
kind: PolicyConfig
agents:
  selector: {matchExpressions: [{key: setwarden.dev/agent, operator: In, values: ["true", "yes"]}]}
  namespaces: [agents]
controlPlaneTaints:
  - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
  - {key: node-role.kubernetes.io/master, effect: NoSchedule}
  - {key: example.com/infra, effect: NoExecute}
  - {key: example.com/infra, effect: PreferNoSchedule}
exemptions:
  namespaces: [kube-system, setwarden-system, exempt]
  objects:
    - {kind: StatefulSet, namespace: strict, name: vendor-db, reason: the vendor chart cannot carry the annotation}
    - {kind: DaemonSet, namespace: strict, name: vendor-agent, rules: [agent-tolerations], reason: runs on workers only}
    - {kind: DaemonSet, namespace: default, name: vendor-agent, rules: [toleration-value-fragile, agent-tolerations], reason: pinned by its vendor}
    - {kind: Deployment, namespace: default, name: vendor-db, reason: "the same name as a StatefulSet, another kind"}
rules:
  statefulset-volume-claim-templates: {namespaces: {legacy: Warn, quiet: Audit}}
  statefulset-name-too-long: {action: Warn, namespaces: {strict: Deny, quiet: "Off"}}
  toleration-value-fragile: {namespaces: {strict: Deny, quiet: "Off"}}
  agent-tolerations: {namespaces: {legacy: Warn, quiet: "Off"}}
`)
	for _, r := range export.List() {
		if r.Support == export.NotExported {
			fmt.Fprintf(&b, "  %s: {action: \"Off\"}\n", r.Rule)
		}
	}
	return b.String()
}

// outcome is what one path made of one case.
type outcome struct {
	// err is an error that is no admission decision (the API server's own
	// validation), the same on both paths.
	err string
	// denials are the denial's field errors: all of the webhook's, the
	// first failed validation of a native policy.
	denials []string
	// findings are each setwarden message by rule: denials and warnings.
	findings map[string][]string
	// warnings are the warnings, setwarden's without the policy prefix.
	warnings []string
	// tolerations are an admitted DaemonSet's tolerations, as stored.
	tolerations string
}

var (
	webhookDenial = regexp.MustCompile(`^admission webhook "[^"]+" denied the request: `)
	nativeDenial  = regexp.MustCompile(`^[^\n]* is forbidden: ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request: (.*)$`)
	nativeWarning = regexp.MustCompile(`^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '[^']+': (.*)$`)
	ruleSuffix    = regexp.MustCompile(` \(rule ([a-z-]+)\)$`)
	rulePrefix    = regexp.MustCompile(`^([a-z-]+): `)
)

// runner sends the cases through the API server, one client per worker so
// that each request's warnings are its own.
type runner struct {
	clients  []client.Client
	warnings []*framework.WarningRecorder
	// ruleOf maps a native policy's name to its rule.
	ruleOf map[string]string
}

func newRunner(t *testing.T, cfg *rest.Config, set *export.Set) *runner {
	t.Helper()
	r := &runner{ruleOf: map[string]string{}}
	for _, p := range set.Validating {
		r.ruleOf[p.Name] = p.Labels[export.RuleLabel]
	}
	for range workers {
		rec := &framework.WarningRecorder{}
		c := rest.CopyConfig(cfg)
		c.QPS, c.Burst = 1000, 2000
		c.WarningHandlerWithContext = rec
		cl, err := client.New(c, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.clients, r.warnings = append(r.clients, cl), append(r.warnings, rec)
	}
	return r
}

// run sends every case and returns the outcomes.
func (r *runner) run(ctx context.Context, cases []testCase) []outcome {
	out := make([]outcome, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				out[i] = r.send(ctx, r.clients[w], r.warnings[w], cases[i])
			}
		})
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (r *runner) send(ctx context.Context, c client.Client, rec *framework.WarningRecorder, tc testCase) outcome {
	rec.Take()
	obj := tc.obj.DeepCopyObject().(client.Object)
	var err error
	if tc.old != nil {
		stored := tc.old.DeepCopyObject().(client.Object)
		if err = c.Get(ctx, client.ObjectKeyFromObject(stored), stored); err == nil {
			obj.SetResourceVersion(stored.GetResourceVersion())
			err = c.Update(ctx, obj, client.DryRunAll)
		}
	} else {
		err = c.Create(ctx, obj, client.DryRunAll)
	}
	o := outcome{findings: map[string][]string{}}
	for _, w := range rec.Take() {
		if m := nativeWarning.FindStringSubmatch(w); m != nil {
			o.warnings = append(o.warnings, m[2])
			o.findings[r.ruleOf[m[1]]] = append(o.findings[r.ruleOf[m[1]]], m[2])
			continue
		}
		o.warnings = append(o.warnings, w)
		if m := rulePrefix.FindStringSubmatch(w); m != nil {
			o.findings[m[1]] = append(o.findings[m[1]], w)
		}
	}
	var status apierrors.APIStatus
	switch {
	case err == nil:
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			data, _ := json.Marshal(ds.Spec.Template.Spec.Tolerations)
			o.tolerations = string(data)
		}
	case !errors.As(err, &status):
		o.err = err.Error()
	case nativeDenial.MatchString(status.Status().Message):
		m := nativeDenial.FindStringSubmatch(status.Status().Message)
		o.denials = []string{m[2]}
		o.findings[r.ruleOf[m[1]]] = append(o.findings[r.ruleOf[m[1]]], m[2])
	case webhookDenial.MatchString(status.Status().Message) && status.Status().Details != nil:
		for _, cause := range status.Status().Details.Causes {
			text := cause.Field + ": " + cause.Message
			o.denials = append(o.denials, text)
			if m := ruleSuffix.FindStringSubmatch(text); m != nil {
				o.findings[m[1]] = append(o.findings[m[1]], text)
			}
		}
	default:
		o.err = describeStatus(status.Status())
	}
	for _, f := range o.findings {
		sort.Strings(f)
	}
	sort.Strings(o.warnings)
	return o
}

// describeStatus renders an API error with its causes in a fixed order.
func describeStatus(s metav1.Status) string {
	var causes []string
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			causes = append(causes, c.Field+": "+c.Message)
		}
	}
	sort.Strings(causes)
	return string(s.Reason) + ": " + strings.Join(causes, "; ")
}

// agreeFull compares the full native policies with both webhooks: the
// same verdict, the native denial among the webhook's, the same warnings,
// the same stored tolerations.
func agreeFull(native, webhook outcome) bool {
	if native.err != webhook.err || len(native.denials) > 0 != (len(webhook.denials) > 0) {
		return false
	}
	if len(native.denials) > 0 && !slices.Contains(webhook.denials, native.denials[0]) {
		return false
	}
	return slices.Equal(native.warnings, webhook.warnings) && native.tolerations == webhook.tolerations
}

// agreeRule compares one rule's findings, every one of them visible.
func agreeRule(native, webhook outcome, rule string) bool {
	return native.err == webhook.err && slices.Equal(native.findings[rule], webhook.findings[rule])
}

func TestNativePoliciesAgreeWithWebhooks(t *testing.T) {
	ctx := t.Context()
	policyConfig := testConfig()
	cfg, err := policies.ParseConfig([]byte(policyConfig))
	if err != nil {
		t.Fatal(err)
	}
	set, err := export.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env, err := framework.Start(framework.Options{PolicyConfig: policyConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	hooks := takeWebhooks(t, env.Client)
	for _, ns := range append(slices.Clone(namespaces), "probe") {
		if ns != "default" && ns != "kube-system" {
			if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := append(manifestCases(t), updateCases()...)
	n := quickVariants
	if *full {
		n = fullVariants
	}
	cases = append(cases, variantCases(n)...)
	for _, tc := range cases {
		if tc.old != nil {
			if err := env.Client.Create(ctx, tc.old.DeepCopyObject().(client.Object)); err != nil {
				t.Fatalf("creating %s: %v", tc.name, err)
			}
		}
	}
	run := newRunner(t, env.Config, set)
	p := newProber(t, env.Config)
	start := time.Now()

	// 1. The exported policies as they are.
	apply(t, env.Client, objects(set.Objects()))
	p.await(t, "native policies", stateNative)
	native := run.run(ctx, cases)
	// 2. Only the validations, every Deny binding turned to Warn, so that
	// each rule's every finding is visible (a native denial shows one).
	remove(t, env.Client, mutationObjects(set))
	for _, b := range set.ValidatingBindings {
		warnOnly(t, env.Client, b)
	}
	p.await(t, "native validations, Deny as Warn", stateNativeWarn)
	nativeAll := run.run(ctx, cases)
	remove(t, env.Client, validationObjects(set))
	p.await(t, "no admission", stateNone)
	// 3. Both webhooks, then 4. the validating webhook alone.
	apply(t, env.Client, hooks)
	p.await(t, "webhooks", stateWebhooks)
	webhook := run.run(ctx, cases)
	remove(t, env.Client, hooks[:1])
	p.await(t, "validating webhook", stateValidatingWebhook)
	webhookAll := run.run(ctx, cases)
	t.Logf("%d cases (%d manifests and updates, %d generated variants) through 4 configurations in %s",
		len(cases), len(cases)-n, n, time.Since(start).Round(time.Second))

	report(t, cases, native, webhook, nativeAll, webhookAll)
}

// report prints the agreement per rule and fails on any difference.
func report(t *testing.T, cases []testCase, native, webhook, nativeAll, webhookAll []outcome) {
	t.Helper()
	var failures []string
	fail := func(format string, args ...any) {
		if len(failures) < 15 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	agreed := 0
	for i := range cases {
		if agreeFull(native[i], webhook[i]) {
			agreed++
		} else {
			fail("%s, full policies vs both webhooks:\n  native:  %+v\n  webhook: %+v", cases[i].name, native[i], webhook[i])
		}
	}
	denied, warned, invalid := 0, 0, 0
	for _, o := range webhook {
		switch {
		case o.err != "":
			invalid++
		case len(o.denials) > 0:
			denied++
		case len(o.warnings) > 0:
			warned++
		}
	}
	t.Logf("all exported policies vs both webhooks: %d/%d agree (verdict, denial text, warnings, patched tolerations); "+
		"the webhooks denied %d, warned about %d more, and the API server's own validation rejected %d", agreed, len(cases), denied, warned, invalid)
	total := len(cases) - agreed
	for _, r := range export.List() {
		if r.Support == export.NotExported {
			continue
		}
		rule, _ := policies.RuleByID(r.Rule)
		judged, agree, found := 0, 0, 0
		for i, tc := range cases {
			w, _ := policies.NewWorkload(tc.obj)
			if !rule.AppliesTo(w.GroupKind) {
				continue
			}
			judged++
			if len(webhookAll[i].findings[r.Rule]) > 0 {
				found++
			}
			if agreeRule(nativeAll[i], webhookAll[i], r.Rule) {
				agree++
			} else {
				fail("%s, rule %s:\n  native:  %q\n  webhook: %q", tc.name, r.Rule, nativeAll[i].findings[r.Rule], webhookAll[i].findings[r.Rule])
			}
		}
		total += judged - agree
		t.Logf("%-36s %d/%d agree (%.2f%%); %d with findings", r.Rule, agree, judged, 100*float64(agree)/float64(max(judged, 1)), found)
	}
	mutated, agreeMut := 0, 0
	for i, tc := range cases {
		if _, ok := tc.obj.(*appsv1.DaemonSet); !ok || webhook[i].tolerations == "" {
			continue
		}
		if webhook[i].tolerations != jsonTolerations(tc.obj) {
			mutated++
		}
		if native[i].tolerations == webhook[i].tolerations {
			agreeMut++
		}
	}
	t.Logf("%-36s %d/%d admitted DaemonSets stored with the same tolerations; %d of them patched", "agent-tolerations (mutation)", agreeMut, countDaemonSets(cases, webhook), mutated)
	if total > 0 {
		t.Errorf("%d disagreements; the first ones:\n%s", total, strings.Join(failures, "\n"))
	}
}

func jsonTolerations(obj client.Object) string {
	data, _ := json.Marshal(obj.(*appsv1.DaemonSet).Spec.Template.Spec.Tolerations)
	return string(data)
}

func countDaemonSets(cases []testCase, outcomes []outcome) int {
	n := 0
	for i, tc := range cases {
		if _, ok := tc.obj.(*appsv1.DaemonSet); ok && outcomes[i].tolerations != "" {
			n++
		}
	}
	return n
}

// takeWebhooks removes the webhook configurations the framework installed
// and returns them (mutating first), ready to be created again.
func takeWebhooks(t *testing.T, c client.Client) []client.Object {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	v := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := c.List(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if err := c.List(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if len(m.Items) != 1 || len(v.Items) != 1 {
		t.Fatalf("want one webhook configuration of each kind, have %d and %d", len(m.Items), len(v.Items))
	}
	hooks := []client.Object{&m.Items[0], &v.Items[0]}
	remove(t, c, hooks)
	for _, h := range hooks {
		h.SetResourceVersion("")
		h.SetUID("")
		h.SetManagedFields(nil)
	}
	return hooks
}

func apply(t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := c.Create(t.Context(), obj.DeepCopyObject().(client.Object)); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

func remove(t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := c.Delete(t.Context(), obj.DeepCopyObject().(client.Object)); err != nil {
			t.Fatalf("deleting %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// warnOnly turns a Deny binding into a Warn one.
func warnOnly(t *testing.T, c client.Client, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	if !slices.Contains(b.Spec.ValidationActions, admissionregistrationv1.Deny) {
		return
	}
	stored := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(b), stored); err != nil {
		t.Fatal(err)
	}
	stored.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
	if err := c.Update(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
}

func mutationObjects(set *export.Set) []client.Object {
	var out []client.Object
	for i := range set.Mutating {
		out = append(out, set.Mutating[i], set.MutatingBindings[i])
	}
	return out
}

func validationObjects(set *export.Set) []client.Object {
	var out []client.Object
	for i := range set.Validating {
		out = append(out, set.Validating[i], set.ValidatingBindings[i])
	}
	return out
}

func objects(objs []runtime.Object) []client.Object {
	out := make([]client.Object, len(objs))
	for i, o := range objs {
		out[i] = o.(client.Object)
	}
	return out
}
