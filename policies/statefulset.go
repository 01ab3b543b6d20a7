package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

func checkStatefulSetServiceNameEmpty(in *Input) field.ErrorList          { return nil }
func checkStatefulSetServiceNotHeadless(in *Input) field.ErrorList        { return nil }
func checkStatefulSetServiceSelectorMisses(in *Input) field.ErrorList     { return nil }
func checkStatefulSetServiceMissing(in *Input) field.ErrorList            { return nil }
func checkStatefulSetVolumeClaimTemplatesEmpty(in *Input) field.ErrorList { return nil }
func checkStatefulSetVolumeClaimTemplateUnused(in *Input) field.ErrorList { return nil }
func checkStatefulSetNameTooLong(in *Input) field.ErrorList               { return nil }
