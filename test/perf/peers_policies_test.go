package perf

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// oneService is a cluster view that holds a single Service.
type oneService struct{ svc *corev1.Service }

func (v oneService) Service(_ context.Context, ns, name string) (*corev1.Service, bool, error) {
	if ns == v.svc.Namespace && name == v.svc.Name {
		return v.svc, true, nil
	}
	return nil, false, nil
}

func (oneService) Nodes(context.Context) ([]*corev1.Node, error) { return nil, policies.ErrNoData }

// setwardenMessages returns the messages setwarden's engine (default
// PolicyConfig) gives for the three StatefulSet rules the peers implement,
// by rule ID, on StatefulSets that break one rule each.
func setwardenMessages(t *testing.T) map[string]string {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: nonHeadlessService, Namespace: MixNamespace},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10", Selector: map[string]string{"app.kubernetes.io/name": "db"}}}
	engine := policies.NewEngine(policies.DefaultConfig())
	msgs := map[string]string{}
	for _, mutate := range []func(*appsv1.StatefulSet){
		func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" },
		func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = nil
			s.Spec.Template.Spec.Containers[0].VolumeMounts = nil
		},
		func(s *appsv1.StatefulSet) { s.Spec.ServiceName = nonHeadlessService },
	} {
		sts := validStatefulSet()
		mutate(sts)
		report := engine.Evaluate(t.Context(), policies.Request{Object: sts, View: oneService{svc}, Mode: policies.ModeAdmission})
		for _, f := range report.Findings {
			if f.Action == policies.ActionDeny {
				msgs[f.Rule] = f.Message()
			}
		}
	}
	for _, rule := range []string{policies.RuleStatefulSetServiceName, policies.RuleStatefulSetVolumeClaimTmpls, policies.RuleStatefulSetServiceHeadless} {
		if msgs[rule] == "" {
			t.Fatalf("setwarden denied no StatefulSet with rule %s: %v", rule, msgs)
		}
	}
	return msgs
}

// setwardenTolerations returns the tolerations setwarden's mutation adds to
// a bare agent DaemonSet, as maps in the order it adds them.
func setwardenTolerations(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, tol := range policies.NewEngine(policies.DefaultConfig()).MutateAgentTolerations(daemonSet(false)) {
		out = append(out, map[string]any{"key": tol.Key, "operator": string(tol.Operator), "effect": string(tol.Effect)})
	}
	if len(out) == 0 {
		t.Fatal("setwarden's mutation adds no tolerations to a bare agent DaemonSet")
	}
	return out
}

// webhookNamespaces are the namespaces setwarden's webhooks leave alone
// (the chart's namespaceSelector), which every peer policy must exclude.
func webhookNamespaces(t *testing.T) []string {
	t.Helper()
	mutating, _, err := framework.LoadWebhookConfigurations()
	if err != nil {
		t.Fatal(err)
	}
	return mutating[0].Webhooks[0].NamespaceSelector.MatchExpressions[0].Values
}

// TestPeerPoliciesMirrorSetwarden reviews the peer policies in
// test/perf/peers/ against setwarden's own semantics, without a cluster:
// the tolerations they add, the agent selector, the namespaces they leave
// alone and each deny message are setwarden's. TestAPIServerAdmission's
// verdict check then shows that the engines decide alike on real objects.
func TestPeerPoliciesMirrorSetwarden(t *testing.T) {
	msgs := setwardenMessages(t)
	tolerations := setwardenTolerations(t)
	agent := map[string]any{policies.DefaultAgentLabel: "true"}
	skipped := webhookNamespaces(t)

	t.Run("Kyverno adds setwarden's tolerations to agent DaemonSets", func(t *testing.T) {
		pol := onlyObject(t, "kyverno", "agent-tolerations.yaml")
		var added []map[string]any
		for _, rule := range nestedSlice(t, pol, "spec", "rules") {
			rule := rule.(map[string]any)
			match := rule["match"].(map[string]any)["any"].([]any)[0].(map[string]any)["resources"].(map[string]any)
			assertEqual(t, "agent selector of rule "+rule["name"].(string), match["selector"].(map[string]any)["matchLabels"], agent)
			assertExcludes(t, rule, skipped)
			var patches []map[string]any
			if err := yaml.Unmarshal([]byte(rule["mutate"].(map[string]any)["patchesJson6902"].(string)), &patches); err != nil {
				t.Fatal(err)
			}
			for _, p := range patches {
				added = append(added, p["value"].(map[string]any))
				// The precondition decides on the same taint as the patch.
				precondition := fmt.Sprint(rule["preconditions"])
				if !strings.Contains(precondition, "'"+p["value"].(map[string]any)["key"].(string)+"'") {
					t.Errorf("rule %s: its precondition does not test the taint it adds: %s", rule["name"], precondition)
				}
			}
		}
		assertEqual(t, "tolerations added", added, tolerations)
	})

	t.Run("Kyverno denies with setwarden's messages", func(t *testing.T) {
		pol := onlyObject(t, "kyverno", "statefulsets.yaml")
		got := map[string]string{}
		for _, rule := range nestedSlice(t, pol, "spec", "rules") {
			rule := rule.(map[string]any)
			assertExcludes(t, rule, skipped)
			msg := rule["validate"].(map[string]any)["message"].(string)
			got[rule["name"].(string)] = strings.ReplaceAll(msg, "{{ request.object.spec.serviceName }}", nonHeadlessService)
		}
		assertEqual(t, "messages by rule", got, msgs)
	})

	t.Run("Gatekeeper adds setwarden's tolerations to agent DaemonSets", func(t *testing.T) {
		objs, err := peerObjects("gatekeeper", "agent-tolerations.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var added []map[string]any
		for _, a := range objs {
			match := a.Object["spec"].(map[string]any)["match"].(map[string]any)
			assertEqual(t, a.GetName()+" agent selector", match["labelSelector"].(map[string]any)["matchLabels"], agent)
			assertEqual(t, a.GetName()+" excluded namespaces", toStrings(match["excludedNamespaces"]), skipped)
			value, _, _ := unstructured.NestedMap(a.Object, "spec", "parameters", "assign", "value")
			added = append(added, value)
			want := fmt.Sprintf("spec.template.spec.tolerations[key: %q]", value["key"])
			location, _, _ := unstructured.NestedString(a.Object, "spec", "location")
			assertEqual(t, a.GetName()+" location", location, want)
		}
		assertEqual(t, "tolerations added", added, tolerations)
	})

	t.Run("Gatekeeper denies with setwarden's messages", func(t *testing.T) {
		templates, err := peerObjects("gatekeeper", "templates.yaml")
		if err != nil {
			t.Fatal(err)
		}
		constraints, err := peerObjects("gatekeeper", "constraints.yaml")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for i, tpl := range templates {
			rego := fmt.Sprint(nestedSlice(t, tpl, "spec", "targets")[0].(map[string]any)["rego"])
			got[constraints[i].GetName()] = regoMessage(t, rego, nonHeadlessService)
			kind, _, _ := unstructured.NestedString(tpl.Object, "spec", "crd", "spec", "names", "kind")
			assertEqual(t, "constraint kind", constraints[i].GetKind(), kind)
			excluded, _, _ := unstructured.NestedStringSlice(constraints[i].Object, "spec", "match", "excludedNamespaces")
			assertEqual(t, constraints[i].GetName()+" excluded namespaces", excluded, skipped)
		}
		assertEqual(t, "messages by rule", got, msgs)
	})
}

var (
	regoConstMsg  = regexp.MustCompile(`msg := ("(?:[^"\\]|\\.)*")\n`)
	regoSprintMsg = regexp.MustCompile(`msg := sprintf\(("(?:[^"\\]|\\.)*"), \[name, name\]\)`)
)

// regoMessage renders the message of a template's violation rule for a
// StatefulSet that names the Service name: Rego's sprintf is Go's.
func regoMessage(t *testing.T, rego, name string) string {
	t.Helper()
	if m := regoSprintMsg.FindStringSubmatch(rego); m != nil {
		format, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(format, name, name)
	}
	m := regoConstMsg.FindStringSubmatch(rego)
	if m == nil {
		t.Fatalf("no message in\n%s", rego)
	}
	msg, err := strconv.Unquote(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func onlyObject(t *testing.T, peer, file string) *unstructured.Unstructured {
	t.Helper()
	objs, err := peerObjects(peer, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%s/%s: %d objects, want 1", peer, file, len(objs))
	}
	return objs[0]
}

func nestedSlice(t *testing.T, u *unstructured.Unstructured, fields ...string) []any {
	t.Helper()
	s, ok, err := unstructured.NestedSlice(u.Object, fields...)
	if !ok || err != nil {
		t.Fatalf("%s: no %s (%v)", u.GetName(), strings.Join(fields, "."), err)
	}
	return s
}

// assertExcludes checks that a Kyverno rule leaves the namespaces alone.
func assertExcludes(t *testing.T, rule map[string]any, namespaces []string) {
	t.Helper()
	exclude := rule["exclude"].(map[string]any)["any"].([]any)[0].(map[string]any)["resources"].(map[string]any)
	assertEqual(t, fmt.Sprint(rule["name"])+" excluded namespaces", toStrings(exclude["namespaces"]), namespaces)
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	slices.Sort(out)
	return out
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}
