package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

func owned(apiVersion, kind string, controller bool) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "x", Namespace: "shop", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: apiVersion, Kind: kind, Name: "owner", UID: "1", Controller: &controller}}}
}

func TestControlled(t *testing.T) {
	tests := []struct {
		name string
		meta metav1.ObjectMeta
		want bool
	}{
		{"a ReplicaSet controlled by a Deployment is judged through it", owned("apps/v1", "Deployment", true), true},
		{"a Pod controlled by a ReplicaSet is judged through it", owned("apps/v1", "ReplicaSet", true), true},
		{"a Pod controlled by a StatefulSet is judged through it", owned("apps/v1", "StatefulSet", true), true},
		{"a Job controlled by a CronJob is judged through it", owned("batch/v1", "CronJob", true), true},
		{"a Pod controlled by a Job is judged through it", owned("batch/v1", "Job", true), true},
		{"a Pod controlled by a ReplicationController is judged through it", owned("v1", "ReplicationController", true), true},
		{"an older API version of a judged kind still counts", owned("apps/v1beta2", "Deployment", true), true},
		{"an owner that is not the controller does not count", owned("apps/v1", "Deployment", false), false},
		{"a Pod controlled by an operator's custom resource is judged", owned("argoproj.io/v1alpha1", "Rollout", true), false},
		{"a static Pod's mirror, controlled by its Node, is judged", owned("v1", "Node", true), false},
		{"a kind of the same name in another group does not count", owned("example.com/v1", "Deployment", true), false},
		{"an object without owners is judged", metav1.ObjectMeta{Name: "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Controlled(&tt.meta); got != tt.want {
				t.Errorf("Controlled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEveryJudgedKindHasALister(t *testing.T) {
	cs := fake.NewClientset()
	for _, k := range policies.Kinds() {
		list, err := lister(cs, k, "")
		if err != nil {
			t.Fatal(err)
		}
		obj, err := list(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		if want := k.Kind + "List"; fmt.Sprintf("%T", obj) != fmt.Sprintf("*%s.%s", pkgOf(k), want) {
			t.Errorf("%s is listed as %T", k.Kind, obj)
		}
	}
}

// pkgOf returns the Go package name of a kind's types.
func pkgOf(k policies.Kind) string {
	return map[string]string{"": "v1", "apps": "v1", "batch": "v1"}[k.Group]
}

// paginate makes the fake clientset's lists of resource honor limit and
// continue, as the API server does, and records each request's options.
func paginate(cs *fake.Clientset, resource string, requests *[]metav1.ListOptions) {
	paginateExpiring(cs, resource, requests, "")
}

// paginateExpiring is paginate whose continue token expire fails with 410
// Gone the first time it is used, as when the API server compacted the
// list's snapshot between two pages.
func paginateExpiring(cs *fake.Clientset, resource string, requests *[]metav1.ListOptions, expire string) {
	expired := false
	cs.PrependReactor("list", resource, func(action k8stesting.Action) (bool, runtime.Object, error) {
		la := action.(k8stesting.ListActionImpl)
		opts := la.ListOptions
		*requests = append(*requests, opts)
		if opts.Continue != "" && opts.Continue == expire && !expired {
			expired = true
			return true, nil, apierrors.NewResourceExpired("the provided continue parameter is too old")
		}
		full, err := cs.Tracker().List(la.GetResource(), la.GetKind(), la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items := full.(*appsv1.DeploymentList).Items
		start, _ := strconv.Atoi(opts.Continue)
		end := min(start+int(opts.Limit), len(items))
		page := &appsv1.DeploymentList{Items: items[start:end]}
		if end < len(items) {
			page.Continue = strconv.Itoa(end)
		}
		return true, page, nil
	})
}

func deployment(ns, name string, tolerations ...corev1.Toleration) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/c:1"}},
					Tolerations: tolerations},
			},
		},
	}
}

// fragile tolerates the control-plane taint of one value only: a
// Warn finding of toleration-value-fragile by default.
var fragile = corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}

func TestEachWorkloadReadsPageByPage(t *testing.T) {
	var objs []runtime.Object
	for i := range 7 {
		objs = append(objs, deployment("shop", fmt.Sprintf("web-%d", i)))
	}
	cs := fake.NewClientset(objs...)
	var requests []metav1.ListOptions
	paginate(cs, "deployments", &requests)
	c := &Cluster{Client: cs, PageSize: 3}
	var names []string
	controlled, errs := c.EachWorkload(t.Context(), func(obj runtime.Object) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			names = append(names, d.Name)
		}
	})
	if controlled != 0 || errs != nil {
		t.Fatalf("controlled %d, errors %v", controlled, errs)
	}
	want := []string{"web-0", "web-1", "web-2", "web-3", "web-4", "web-5", "web-6"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	wantRequests := []metav1.ListOptions{{Limit: 3}, {Limit: 3, Continue: "3"}, {Limit: 3, Continue: "6"}}
	if diff := cmp.Diff(wantRequests, requests); diff != "" {
		t.Errorf("list requests (-want +got):\n%s", diff)
	}
}

func TestEachWorkloadStartsAnExpiredListOver(t *testing.T) {
	tests := []struct {
		name         string
		expireAt     string
		wantRequests []metav1.ListOptions
	}{
		{
			name:     "a list whose second page expired starts over and skips what it judged",
			expireAt: "3",
			wantRequests: []metav1.ListOptions{{Limit: 3}, {Limit: 3, Continue: "3"},
				{Limit: 3}, {Limit: 3, Continue: "3"}, {Limit: 3, Continue: "6"}},
		},
		{
			name:     "a list whose last page expired starts over too",
			expireAt: "6",
			wantRequests: []metav1.ListOptions{{Limit: 3}, {Limit: 3, Continue: "3"}, {Limit: 3, Continue: "6"},
				{Limit: 3}, {Limit: 3, Continue: "3"}, {Limit: 3, Continue: "6"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			for i := range 7 {
				objs = append(objs, deployment("shop", fmt.Sprintf("web-%d", i)))
			}
			cs := fake.NewClientset(objs...)
			var requests []metav1.ListOptions
			paginateExpiring(cs, "deployments", &requests, tc.expireAt)
			c := &Cluster{Client: cs, PageSize: 3}
			var names []string
			_, errs := c.EachWorkload(t.Context(), func(obj runtime.Object) {
				if d, ok := obj.(*appsv1.Deployment); ok {
					names = append(names, d.Name)
				}
			})
			if errs != nil {
				t.Fatalf("errors %v", errs)
			}
			want := []string{"web-0", "web-1", "web-2", "web-3", "web-4", "web-5", "web-6"}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("deployments judged (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRequests, requests); diff != "" {
				t.Errorf("list requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEachWorkloadGivesUpOnAListThatKeepsExpiring(t *testing.T) {
	cs := fake.NewClientset(deployment("shop", "web-0"), deployment("shop", "web-1"))
	lists := 0
	cs.PrependReactor("list", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		if action.(k8stesting.ListActionImpl).ListOptions.Continue != "" {
			return true, nil, apierrors.NewResourceExpired("the provided continue parameter is too old")
		}
		web0 := deployment("shop", "web-0")
		return true, &appsv1.DeploymentList{ListMeta: metav1.ListMeta{Continue: "1"}, Items: []appsv1.Deployment{*web0}}, nil
	})
	c := &Cluster{Client: cs, PageSize: 1}
	judged := 0
	_, errs := c.EachWorkload(t.Context(), func(obj runtime.Object) {
		if _, ok := obj.(*appsv1.Deployment); ok {
			judged++
		}
	})
	if len(errs) != 1 || !apierrors.IsResourceExpired(errs[0]) || !strings.HasPrefix(errs[0].Error(), "listing deployments.apps: ") {
		t.Fatalf("errors %v, want one expired list of deployments.apps", errs)
	}
	if judged != 1 || lists != 2*(maxListRestarts+1) {
		t.Errorf("judged %d deployments in %d list calls, want 1 in %d", judged, lists, 2*(maxListRestarts+1))
	}
}

// auditJSON runs a one-shot audit of cs and returns its JSON report.
func auditJSON(t *testing.T, cs *fake.Clientset, namespace string) jsonReport {
	t.Helper()
	var out bytes.Buffer
	_, err := Run(t.Context(), Input{Cluster: Cluster{Client: cs, Namespace: namespace}, Engine: policies.NewEngine(nil),
		ConfigSource: "the built-in defaults", Out: report.NewJSON(&out)})
	if err != nil {
		t.Fatal(err)
	}
	var rep jsonReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return rep
}

type jsonReport struct {
	Results []report.Result
	Summary report.Summary
	Errors  []report.Problem
}

// findings returns "action rule kind namespace/name" per result.
func (r jsonReport) findings() []string {
	var out []string
	for _, res := range r.Results {
		out = append(out, fmt.Sprintf("%s %s %s %s", res.Action, res.Rule, res.Object.Kind, res.Object.NamespacedName()))
	}
	return out
}

func TestRunSkipsWhatJudgedControllersControl(t *testing.T) {
	web := deployment("shop", "web", fragile)
	rs := &appsv1.ReplicaSet{ObjectMeta: owned("apps/v1", "Deployment", true), Spec: appsv1.ReplicaSetSpec{Template: web.Spec.Template}}
	rs.Name = "web-5d8f"
	pod := &corev1.Pod{ObjectMeta: owned("apps/v1", "ReplicaSet", true), Spec: web.Spec.Template.Spec}
	pod.Name = "web-5d8f-abcde"
	rollout := &corev1.Pod{ObjectMeta: owned("argoproj.io/v1alpha1", "Rollout", true), Spec: web.Spec.Template.Spec}
	rollout.Name = "canary-1"
	other := deployment("other", "api", fragile)
	cs := fake.NewClientset(web, rs, pod, rollout, other)
	tests := []struct {
		name      string
		namespace string
		want      []string
		evaluated int
	}{
		{name: "in one namespace, the Deployment and the Pod no judged kind controls",
			namespace: "shop", evaluated: 2, want: []string{
				"Warn toleration-value-fragile Pod shop/canary-1",
				"Warn toleration-value-fragile Deployment shop/web",
			}},
		{name: "in all namespaces, the other namespace's Deployment too",
			evaluated: 3, want: []string{
				"Warn toleration-value-fragile Pod shop/canary-1",
				"Warn toleration-value-fragile Deployment other/api",
				"Warn toleration-value-fragile Deployment shop/web",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := auditJSON(t, cs, tt.namespace)
			if diff := cmp.Diff(tt.want, rep.findings()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			c := rep.Summary.Cluster
			if rep.Summary.Evaluated != tt.evaluated || c == nil || c.Controlled != 2 {
				t.Errorf("evaluated %d, cluster summary %+v; want %d evaluated and 2 controlled", rep.Summary.Evaluated, c, tt.evaluated)
			}
		})
	}
}

func TestRunJudgesAgainstTheListedServicesAndNodes(t *testing.T) {
	replicas := int32(1)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: appsv1.StatefulSetSpec{
		Replicas: &replicas, ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "gpu", Operator: corev1.NodeSelectorOpIn, Values: []string{"a100"}}}}}}}}}},
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
	}}
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"}}}
	gpuNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"gpu": "a100"}}}
	cpuNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2", Labels: map[string]string{"gpu": "none"}}}
	tests := []struct {
		name    string
		cluster []runtime.Object
		want    []string
	}{
		{"the Service and a matching Node exist: nothing to report", []runtime.Object{headless, gpuNode, cpuNode}, nil},
		{"the Service is gone", []runtime.Object{gpuNode}, []string{"Warn statefulset-service-missing StatefulSet shop/db"}},
		{"no Node matches the required node affinity", []runtime.Object{headless, cpuNode},
			[]string{"Warn node-affinity-no-matching-nodes StatefulSet shop/db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(append([]runtime.Object{sts.DeepCopy()}, tt.cluster...)...)
			rep := auditJSON(t, cs, "")
			if diff := cmp.Diff(tt.want, rep.findings()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunReportsWhatCannotBeRead(t *testing.T) {
	forbid := func(resource string) *fake.Clientset {
		cs := fake.NewClientset(deployment("shop", "web", fragile))
		cs.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", fmt.Errorf("RBAC says no"))
		})
		return cs
	}
	t.Run("no Services: the audit fails with the API server's message", func(t *testing.T) {
		_, err := Run(t.Context(), Input{Cluster: Cluster{Client: forbid("services")}, Engine: policies.NewEngine(nil)})
		if err == nil || err.Error() != `listing Services: services is forbidden: RBAC says no` {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no CronJobs: every other kind is still judged, and the error reported", func(t *testing.T) {
		rep := auditJSON(t, forbid("cronjobs"), "")
		want := []report.Problem{{Message: "listing cronjobs.batch: cronjobs is forbidden: RBAC says no"}}
		if diff := cmp.Diff(want, rep.Errors); diff != "" || len(rep.Results) != 1 {
			t.Errorf("results %v, errors (-want +got):\n%s", rep.findings(), diff)
		}
	})
}

func TestLoadConfig(t *testing.T) {
	installed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "setwarden-config", Namespace: "setwarden-system"},
		Data: map[string]string{"config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
			"rules:\n  toleration-value-fragile: {action: Audit}\n"}}
	src := ConfigSource{Namespace: "setwarden-system", ConfigMap: "setwarden-config"}
	tests := []struct {
		name        string
		objs        []runtime.Object
		fromCluster bool
		wantSource  string
		wantAction  policies.Action
		wantErr     string
	}{
		{name: "the installed PolicyConfig when its ConfigMap exists", objs: []runtime.Object{installed},
			wantSource: "the installed PolicyConfig (ConfigMap setwarden-system/setwarden-config)", wantAction: policies.ActionAudit},
		{name: "the built-in defaults when it does not",
			wantSource: "the built-in defaults (no ConfigMap setwarden-system/setwarden-config)", wantAction: policies.ActionWarn},
		{name: "an error when it does not and --config-from-cluster requires it", fromCluster: true,
			wantErr: `reading the installed PolicyConfig (ConfigMap setwarden-system/setwarden-config; set --setwarden-namespace and --setwarden-configmap): configmaps "setwarden-config" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := src
			s.FromCluster = tt.fromCluster
			cfg, source, err := LoadConfig(t.Context(), fake.NewClientset(tt.objs...), s)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rule, _ := policies.RuleByID(policies.RuleTolerationValueFragile)
			if source != tt.wantSource || cfg.ActionFor(rule, "shop") != tt.wantAction {
				t.Errorf("source %q, action %s; want %q, %s", source, cfg.ActionFor(rule, "shop"), tt.wantSource, tt.wantAction)
			}
		})
	}
	t.Run("a forbidden ConfigMap is an error, not the defaults", func(t *testing.T) {
		cs := fake.NewClientset()
		cs.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "setwarden-config", fmt.Errorf("RBAC says no"))
		})
		if _, _, err := LoadConfig(t.Context(), cs, src); !apierrors.IsForbidden(err) {
			t.Errorf("error %v, want forbidden", err)
		}
	})
}
