package perf

import (
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MixNamespace is where the mix's objects live; MixService is the headless
// Service the valid StatefulSets name (create it before the run).
const (
	MixNamespace = "perf"
	MixService   = "db-headless"
)

// StandardMix is the request mix of the performance measurements: 35% agent
// DaemonSet UPDATE (no change), 15% agent DaemonSet CREATE (patched), 25%
// StatefulSet UPDATE, 10% StatefulSet CREATE (half denied), 15% other
// workloads.
func StandardMix() ([]Weighted, error) {
	ds := daemonSet(true)
	bare := daemonSet(false)
	sts := statefulSet(MixService)
	broken := statefulSet("")
	dep := deployment()
	var mix []Weighted
	for _, m := range []struct {
		pct  int
		name string
		path string
		op   admissionv1.Operation
		kind string
		obj  runtime.Object
		old  runtime.Object
	}{
		{35, "DaemonSet UPDATE (no change)", "/mutate", admissionv1.Update, "DaemonSet", ds, ds},
		{15, "DaemonSet CREATE (patched)", "/mutate", admissionv1.Create, "DaemonSet", bare, nil},
		{25, "StatefulSet UPDATE", "/validate", admissionv1.Update, "StatefulSet", sts, sts},
		{5, "StatefulSet CREATE (admitted)", "/validate", admissionv1.Create, "StatefulSet", sts, nil},
		{5, "StatefulSet CREATE (denied)", "/validate", admissionv1.Create, "StatefulSet", broken, nil},
		{15, "Deployment CREATE", "/validate", admissionv1.Create, "Deployment", dep, nil},
	} {
		body, err := Review(m.op, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: m.kind}, m.obj, m.old)
		if err != nil {
			return nil, err
		}
		mix = append(mix, Weighted{Percent: m.pct, Request: Request{Name: m.name, Path: m.path, Body: body}})
	}
	return mix, nil
}

// Review encodes an AdmissionReview as the API server sends it.
func Review(op admissionv1.Operation, gvk metav1.GroupVersionKind, obj, old runtime.Object) ([]byte, error) {
	raw := func(o runtime.Object) (runtime.RawExtension, error) {
		if o == nil {
			return runtime.RawExtension{}, nil
		}
		b, err := json.Marshal(o)
		return runtime.RawExtension{Raw: b}, err
	}
	object, err := raw(obj)
	if err != nil {
		return nil, err
	}
	oldObject, err := raw(old)
	if err != nil {
		return nil, err
	}
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "7f0c3a52-2b1e-4c55-8f57-3b9a1e0c2d41", Kind: gvk, Operation: op, Namespace: MixNamespace,
			Resource: metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"},
			Object:   object, OldObject: oldObject,
		},
	})
}

// template is a realistic pod template of about sixty lines of YAML.
func template(app string) corev1.PodTemplateSpec {
	var env []corev1.EnvVar
	for i := range 8 {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", i), Value: fmt.Sprintf("value-%d", i)})
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: app, Image: "registry.example/" + app + ":1.2.3", Env: env, LivenessProbe: probe, ReadinessProbe: probe,
				Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("128Mi")}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}}},
			}}}},
		},
	}
}

func daemonSet(tolerated bool) *appsv1.DaemonSet {
	tpl := template("node-exporter")
	tpl.Spec.Containers[0].VolumeMounts = nil
	if tolerated {
		tpl.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "node-exporter", Namespace: MixNamespace, Labels: map[string]string{"setwarden.dev/agent": "true"}},
		Spec: appsv1.DaemonSetSpec{Template: tpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "node-exporter"}}},
	}
}

func statefulSet(service string) *appsv1.StatefulSet {
	replicas := int32(3)
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: MixNamespace},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: service, Template: template("db"),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "db"}}},
	}
	if service != "" {
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	}
	return sts
}

func deployment() *appsv1.Deployment {
	replicas := int32(3)
	tpl := template("web")
	tpl.Spec.Containers[0].VolumeMounts = nil
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: MixNamespace},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: tpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "web"}}},
	}
}
