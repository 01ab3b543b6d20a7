package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var dsTolerationsPath = field.NewPath("spec", "template", "spec", "tolerations")

// agentDaemonSet returns an agent DaemonSet "node-exporter" in "monitoring".
func agentDaemonSet(tolerations ...corev1.Toleration) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-exporter", Namespace: "monitoring",
			Labels: map[string]string{DefaultAgentLabel: "true"}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-exporter"}},
			Spec: corev1.PodSpec{
				Containers:  []corev1.Container{{Name: "exporter", Image: "prom/node-exporter:v1.9.0"}},
				Tolerations: tolerations,
			},
		}},
	}
}

const (
	cpKey     = "node-role.kubernetes.io/control-plane"
	masterKey = "node-role.kubernetes.io/master"
)

func missingToleration(key string) *field.Error {
	return field.Required(dsTolerationsPath, "agent DaemonSet does not tolerate the "+key+
		":NoSchedule taint, so it cannot run on control-plane nodes; add {key: "+key+", operator: Exists, effect: NoSchedule}")
}

func TestCheckAgentTolerationsMissing(t *testing.T) {
	exists := corev1.TolerationOpExists
	tests := []struct {
		name string
		obj  *appsv1.DaemonSet
		want field.ErrorList
	}{
		{
			name: "an agent DaemonSet without tolerations lacks both control-plane tolerations",
			obj:  agentDaemonSet(),
			want: field.ErrorList{missingToleration(cpKey), missingToleration(masterKey)},
		},
		{
			name: "an agent DaemonSet with both Exists tolerations is covered",
			obj: agentDaemonSet(
				corev1.Toleration{Key: cpKey, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
				corev1.Toleration{Key: masterKey, Operator: exists, Effect: corev1.TaintEffectNoSchedule}),
		},
		{
			name: "an Exists toleration with an empty key already covers every taint",
			obj:  agentDaemonSet(corev1.Toleration{Operator: exists}),
		},
		{
			name: "an Exists toleration with the key and no effect covers every effect of that key",
			obj: agentDaemonSet(corev1.Toleration{Key: cpKey, Operator: exists},
				corev1.Toleration{Key: masterKey, Operator: exists}),
		},
		{
			name: "an Equal toleration does not cover the taint because the value differs between distributions",
			obj: agentDaemonSet(corev1.Toleration{Key: cpKey, Operator: corev1.TolerationOpEqual, Value: "", Effect: corev1.TaintEffectNoSchedule},
				corev1.Toleration{Key: masterKey, Operator: exists}),
			want: field.ErrorList{missingToleration(cpKey)},
		},
		{
			name: "an Exists toleration for another effect does not cover NoSchedule",
			obj: agentDaemonSet(corev1.Toleration{Key: cpKey, Operator: exists, Effect: corev1.TaintEffectNoExecute},
				corev1.Toleration{Key: masterKey, Operator: exists}),
			want: field.ErrorList{missingToleration(cpKey)},
		},
		{
			name: "a DaemonSet without the agent label is not an agent",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet()
				ds.Labels = map[string]string{"app": "node-exporter"}
				return ds
			}(),
		},
		{
			name: "the agent label on the pod template alone does not make an agent",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet()
				ds.Labels = nil
				ds.Spec.Template.Labels[DefaultAgentLabel] = "true"
				return ds
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertErrors(t, checkAgentTolerationsMissing(inputFor(t, tt.obj)), tt.want)
		})
	}
}

// TestAgentPreferNoScheduleTaintIsAPreference: a PreferNoSchedule
// control-plane taint never keeps an agent off a node (the DaemonSet
// controller ignores it), so its missing toleration is said to be a
// preference and warned about, never denied, and still added by the
// mutation and by check --fix.
func TestAgentPreferNoScheduleTaintIsAPreference(t *testing.T) {
	const softKey = "node-role.kubernetes.io/control-plane"
	cfg := mustConfig(t, "controlPlaneTaints:\n- {key: "+softKey+", effect: PreferNoSchedule}\n- {key: "+masterKey+", effect: NoSchedule}\n")
	soft := field.Required(dsTolerationsPath, "no toleration for "+softKey+
		":PreferNoSchedule, a preference only: the agent still runs on control-plane nodes; add {key: "+softKey+
		", operator: Exists, effect: PreferNoSchedule}")
	hard := missingToleration(masterKey)
	tests := []struct {
		name string
		mode Mode
		obj  *appsv1.DaemonSet
		want []Finding
	}{
		{
			name: "in admission the soft gap is a warning and the hard one a denial",
			mode: ModeAdmission, obj: agentDaemonSet(),
			want: []Finding{
				{Rule: RuleAgentTolerations, Action: ActionDeny, Err: hard},
				{Rule: RuleAgentTolerations, Action: ActionWarn, Err: soft},
			},
		},
		{
			name: "offline both gaps are mutations that check --fix closes",
			mode: ModeOffline, obj: agentDaemonSet(),
			want: []Finding{
				{Rule: RuleAgentTolerations, Action: ActionMutate, Err: hard},
				{Rule: RuleAgentTolerations, Action: ActionMutate, Err: soft},
			},
		},
		{
			name: "an agent that tolerates the soft taint has only the hard gap",
			mode: ModeAdmission,
			obj:  agentDaemonSet(corev1.Toleration{Key: softKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule}),
			want: []Finding{{Rule: RuleAgentTolerations, Action: ActionDeny, Err: hard}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := NewEngine(cfg).Evaluate(t.Context(), Request{Object: tt.obj, Mode: tt.mode})
			var got []Finding
			for _, f := range report.Findings {
				if f.Rule == RuleAgentTolerations {
					got = append(got, f)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings differ (-want +got):\n%s", diff)
			}
			for _, f := range got {
				if len(f.Rule)+len(f.Fix()) > 254 {
					t.Errorf("the warning %q does not fit in 256 characters with its rule ID", f.Fix())
				}
			}
		})
	}
	t.Run("the mutation adds the soft toleration too", func(t *testing.T) {
		ds := agentDaemonSet()
		NewEngine(cfg).MutateAgentTolerations(ds)
		want := []corev1.Toleration{
			{Key: softKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule},
			{Key: masterKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		}
		if diff := cmp.Diff(want, ds.Spec.Template.Spec.Tolerations); diff != "" {
			t.Errorf("tolerations differ (-want +got):\n%s", diff)
		}
	})
}

func TestIsAgentByNamespace(t *testing.T) {
	cfg := mustConfig(t, "agents:\n  namespaces: [logging]\n")
	ds := agentDaemonSet()
	ds.Labels, ds.Namespace = nil, "logging"
	if !cfg.IsAgent(&ds.ObjectMeta) {
		t.Errorf("a DaemonSet in an agent namespace should be an agent")
	}
	ds.Namespace = "monitoring"
	if cfg.IsAgent(&ds.ObjectMeta) {
		t.Errorf("an unlabelled DaemonSet outside the agent namespaces should not be an agent")
	}
}

func TestCheckTolerationValueFragile(t *testing.T) {
	tol := func(key string, op corev1.TolerationOperator, value string) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: op, Value: value, Effect: corev1.TaintEffectNoSchedule}
	}
	podPath := field.NewPath("spec", "template", "spec", "tolerations")
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		want        field.ErrorList
	}{
		{
			name:        "an Equal toleration for the control-plane key with a fixed value is fragile",
			tolerations: []corev1.Toleration{tol(cpKey, corev1.TolerationOpEqual, "true")},
			want: field.ErrorList{field.Invalid(podPath.Index(0).Child("operator"), corev1.TolerationOpEqual,
				`toleration for node-role.kubernetes.io/control-plane matches only the value "true", but distributions set different values; use operator: Exists and drop the value`)},
		},
		{
			name:        "a toleration without operator means Equal and is fragile too",
			tolerations: []corev1.Toleration{tol(masterKey, "", "")},
			want: field.ErrorList{field.Invalid(podPath.Index(0).Child("operator"), corev1.TolerationOperator(""),
				`toleration for node-role.kubernetes.io/master matches only the value "", but distributions set different values; use operator: Exists and drop the value`)},
		},
		{
			name:        "an Exists toleration for the control-plane key is robust",
			tolerations: []corev1.Toleration{tol(cpKey, corev1.TolerationOpExists, "")},
		},
		{
			name:        "an Equal toleration for an unrelated key is not this rule's concern",
			tolerations: []corev1.Toleration{tol("dedicated", corev1.TolerationOpEqual, "gpu")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := deploymentWith(1, corev1.PodSpec{Tolerations: tt.tolerations})
			assertErrors(t, checkTolerationValueFragile(inputFor(t, obj)), tt.want)
		})
	}
}

func TestMutateAgentTolerations(t *testing.T) {
	exists := corev1.TolerationOpExists
	cpTol := corev1.Toleration{Key: cpKey, Operator: exists, Effect: corev1.TaintEffectNoSchedule}
	masterTol := corev1.Toleration{Key: masterKey, Operator: exists, Effect: corev1.TaintEffectNoSchedule}
	custom := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name      string
		obj       *appsv1.DaemonSet
		wantAdded []corev1.Toleration
		wantFinal []corev1.Toleration
	}{
		{
			name:      "an agent without tolerations gets both, after its existing ones",
			obj:       agentDaemonSet(custom),
			wantAdded: []corev1.Toleration{cpTol, masterTol},
			wantFinal: []corev1.Toleration{custom, cpTol, masterTol},
		},
		{
			name:      "an agent that tolerates the control-plane key only gets the legacy master one",
			obj:       agentDaemonSet(corev1.Toleration{Key: cpKey, Operator: exists}),
			wantAdded: []corev1.Toleration{masterTol},
			wantFinal: []corev1.Toleration{{Key: cpKey, Operator: exists}, masterTol},
		},
		{
			name:      "an agent that tolerates everything is untouched",
			obj:       agentDaemonSet(corev1.Toleration{Operator: exists}),
			wantFinal: []corev1.Toleration{{Operator: exists}},
		},
		{
			name: "a non-agent DaemonSet is untouched",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet()
				ds.Labels = nil
				return ds
			}(),
		},
		{
			name: "an agent in kube-system is exempt and untouched",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet()
				ds.Namespace = metav1.NamespaceSystem
				return ds
			}(),
		},
		{
			name: "an agent exempt from the rule by annotation with a reason is untouched",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet()
				ds.Annotations = map[string]string{ExemptAnnotation: "agent-tolerations", ExemptReasonAnnotation: "workers only"}
				return ds
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(nil)
			before := tt.obj.DeepCopy()
			added := e.MutateAgentTolerations(tt.obj)
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added tolerations differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFinal, tt.obj.Spec.Template.Spec.Tolerations); diff != "" {
				t.Errorf("final tolerations differ (-want +got):\n%s", diff)
			}
			// Everything but the tolerations is preserved.
			after := tt.obj.DeepCopy()
			after.Spec.Template.Spec.Tolerations = before.Spec.Template.Spec.Tolerations
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("mutation changed other fields (-before +after):\n%s", diff)
			}
			// Idempotent: a second pass adds nothing and leaves the object as is.
			once := tt.obj.DeepCopy()
			if again := e.MutateAgentTolerations(tt.obj); len(again) != 0 {
				t.Errorf("second pass added %v", again)
			}
			if diff := cmp.Diff(once, tt.obj); diff != "" {
				t.Errorf("second pass changed the object (-once +twice):\n%s", diff)
			}
			// And the validating rule finds nothing left to add after a mutation.
			if !e.config.IsAgent(&tt.obj.ObjectMeta) || tt.obj.Namespace == metav1.NamespaceSystem || tt.obj.Annotations != nil {
				return
			}
			if errs := checkAgentTolerationsMissing(inputFor(t, tt.obj)); len(errs) != 0 {
				t.Errorf("mutated object still violates agent-tolerations: %v", errs)
			}
		})
	}
}
