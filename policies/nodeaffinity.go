package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

func checkNodeAffinityUnsatisfiable(in *Input) field.ErrorList         { return nil }
func adviseNodeAffinityTermsUnsatisfiable(in *Input) field.ErrorList   { return nil }
func checkNodeAffinityConflictsNodeSelector(in *Input) field.ErrorList { return nil }
func checkNodeAffinityNoMatchingNodes(in *Input) field.ErrorList       { return nil }
func checkAffinityDeprecatedLabel(in *Input) field.ErrorList           { return nil }
