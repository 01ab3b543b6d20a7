package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

// checkAffinityInvalid reports affinity that kube-apiserver would reject.
func checkAffinityInvalid(in *Input) field.ErrorList { return nil }

// checkTolerationInvalid reports tolerations that kube-apiserver would reject.
func checkTolerationInvalid(in *Input) field.ErrorList { return nil }
