package policies

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// redisStatefulSet returns a valid Redis StatefulSet "redis" in "data",
// governed by Service "redis-headless", with a mounted claim template.
func redisStatefulSet() *appsv1.StatefulSet {
	replicas := int32(3)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: "data"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "redis-headless",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "redis", "tier": "cache"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "redis", Image: "redis:7.4",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
}

// headlessService returns the headless Service "redis-headless" selecting app=redis.
func headlessService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-headless", Namespace: "data"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "redis"}},
	}
}

func TestStatefulSetRules(t *testing.T) {
	svcName := field.NewPath("spec", "serviceName")
	notFound := field.NotFound(svcName, "redis-headless")
	notFound.Detail = `no Service "redis-headless" in namespace "data"; create a headless Service (clusterIP: None) of that name that selects the pods`
	tests := []struct {
		name  string
		check CheckFunc
		sts   func(*appsv1.StatefulSet)
		svc   func(*corev1.Service) // nil svc func with noService means not found
		noSvc bool
		want  field.ErrorList
	}{
		{
			name: "an empty serviceName is required", check: checkStatefulSetServiceNameEmpty,
			sts: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" },
			want: field.ErrorList{field.Required(svcName,
				"set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name")},
		},
		{name: "a set serviceName passes the presence check", check: checkStatefulSetServiceNameEmpty},
		{
			name: "a Service with a cluster IP is not headless", check: checkStatefulSetServiceNotHeadless,
			svc: func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.12" },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`Service "redis-headless" is not headless, so the pods get no stable DNS names; set clusterIP: None on it (or point spec.serviceName at a headless Service)`)},
		},
		{
			name: "a Service manifest that omits clusterIP is not headless", check: checkStatefulSetServiceNotHeadless,
			svc: func(s *corev1.Service) { s.Spec.ClusterIP = "" },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`Service "redis-headless" is not headless, so the pods get no stable DNS names; set clusterIP: None on it (or point spec.serviceName at a headless Service)`)},
		},
		{
			name: "an ExternalName Service is not headless", check: checkStatefulSetServiceNotHeadless,
			svc: func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeExternalName, "" },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`Service "redis-headless" is of type ExternalName, which publishes no per-pod DNS records; point spec.serviceName at a Service with clusterIP: None`)},
		},
		{name: "a headless Service passes", check: checkStatefulSetServiceNotHeadless},
		{name: "a missing Service is not reported as not headless", check: checkStatefulSetServiceNotHeadless, noSvc: true},
		{
			name: "a Service without selector selects no pods", check: checkStatefulSetServiceSelectorMisses,
			svc: func(s *corev1.Service) { s.Spec.Selector = nil },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`Service "redis-headless" has no selector, so it publishes no per-pod DNS records; give it a selector that matches spec.template.metadata.labels`)},
		},
		{
			name: "a Service whose selector misses the pod labels is reported", check: checkStatefulSetServiceSelectorMisses,
			svc: func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "redis-cluster"} },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`the selector app=redis-cluster of Service "redis-headless" does not match the pod template labels, so the pods get no DNS records; make the selector a subset of spec.template.metadata.labels`)},
		},
		{
			name: "pod labels that are a superset of the Service selector are selected", check: checkStatefulSetServiceSelectorMisses,
			sts: func(s *appsv1.StatefulSet) { s.Spec.Template.Labels["extra"] = "yes" },
		},
		{
			name: "a selector with more labels than the pods have misses them", check: checkStatefulSetServiceSelectorMisses,
			svc: func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "redis", "role": "master"} },
			want: field.ErrorList{field.Invalid(svcName, "redis-headless",
				`the selector app=redis,role=master of Service "redis-headless" does not match the pod template labels, so the pods get no DNS records; make the selector a subset of spec.template.metadata.labels`)},
		},
		{name: "a missing Service is reported as missing", check: checkStatefulSetServiceMissing, noSvc: true, want: field.ErrorList{notFound}},
		{name: "an existing Service is not missing", check: checkStatefulSetServiceMissing},
		{
			name: "an empty serviceName is not reported as a missing Service", check: checkStatefulSetServiceMissing, noSvc: true,
			sts: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" },
		},
		{
			name: "no volumeClaimTemplates is required", check: checkStatefulSetVolumeClaimTemplatesEmpty,
			sts: func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = nil },
			want: field.ErrorList{field.Required(field.NewPath("spec", "volumeClaimTemplates"),
				"add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods)")},
		},
		{name: "a StatefulSet with a claim template passes", check: checkStatefulSetVolumeClaimTemplatesEmpty},
		{
			name: "a claim template that no container mounts is unused", check: checkStatefulSetVolumeClaimTemplateUnused,
			sts: func(s *appsv1.StatefulSet) {
				s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "logs"}})
			},
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "volumeClaimTemplates").Index(1).Child("metadata", "name"), "logs",
				`no container mounts the claim "logs"; add a volumeMount with name "logs" where the data lives, or remove the template`)},
		},
		{
			name: "a claim template mounted only by an init container is used", check: checkStatefulSetVolumeClaimTemplateUnused,
			sts: func(s *appsv1.StatefulSet) {
				s.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", VolumeMounts: s.Spec.Template.Spec.Containers[0].VolumeMounts}}
				s.Spec.Template.Spec.Containers[0].VolumeMounts = nil
			},
		},
		{
			name: "a claim template used only as a raw block device is used", check: checkStatefulSetVolumeClaimTemplateUnused,
			sts: func(s *appsv1.StatefulSet) {
				s.Spec.VolumeClaimTemplates[0].Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
				s.Spec.Template.Spec.Containers[0].VolumeMounts = nil
				s.Spec.Template.Spec.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: "data", DevicePath: "/dev/xvda"}}
			},
		},
		{
			name: "a claim template used as a raw block device only by an init container is used", check: checkStatefulSetVolumeClaimTemplateUnused,
			sts: func(s *appsv1.StatefulSet) {
				s.Spec.Template.Spec.Containers[0].VolumeMounts = nil
				s.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "format", VolumeDevices: []corev1.VolumeDevice{{Name: "data", DevicePath: "/dev/xvda"}}}}
			},
		},
		{
			name: "a 53-character name is too long", check: checkStatefulSetNameTooLong,
			sts: func(s *appsv1.StatefulSet) { s.Name = strings.Repeat("a", 53) },
			want: field.ErrorList{func() *field.Error {
				e := field.TooLong(field.NewPath("metadata", "name"), strings.Repeat("a", 53), 52)
				e.Detail = "must be no more than 52 characters, or the pods' controller-revision-hash label exceeds 63 characters and no pod can be created; shorten the name"
				return e
			}()},
		},
		{
			name: "a 52-character name fits", check: checkStatefulSetNameTooLong,
			sts: func(s *appsv1.StatefulSet) { s.Name = strings.Repeat("a", 52) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := redisStatefulSet()
			if tt.sts != nil {
				tt.sts(sts)
			}
			in := inputFor(t, sts)
			if !tt.noSvc {
				in.Service, in.ServiceFound = headlessService(), true
				if tt.svc != nil {
					tt.svc(in.Service)
				}
			}
			assertErrors(t, tt.check(in), tt.want)
		})
	}
}

func TestStatefulSetRulesIgnoreOtherKinds(t *testing.T) {
	in := inputFor(t, deploymentWith(3, corev1.PodSpec{}))
	// Even with a Service at hand that a StatefulSet would be judged by.
	in.Service, in.ServiceFound = headlessService(), true
	in.Service.Spec.ClusterIP = "10.0.0.1"
	for _, check := range []CheckFunc{checkStatefulSetServiceNameEmpty, checkStatefulSetServiceNotHeadless,
		checkStatefulSetServiceSelectorMisses, checkStatefulSetServiceMissing, checkStatefulSetVolumeClaimTemplatesEmpty,
		checkStatefulSetVolumeClaimTemplateUnused, checkStatefulSetNameTooLong} {
		if errs := check(in); len(errs) != 0 {
			t.Errorf("a Deployment got StatefulSet findings: %v", errs)
		}
	}
}
