package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

func checkPodAffinityEmptySelector(in *Input) field.ErrorList      { return nil }
func advisePodAffinityNoSelector(in *Input) field.ErrorList        { return nil }
func checkPodAntiAffinityExceedsDomains(in *Input) field.ErrorList { return nil }
func checkPodAntiAffinityNotSelf(in *Input) field.ErrorList        { return nil }
func checkDaemonSetPodAntiAffinity(in *Input) field.ErrorList      { return nil }
func checkMatchLabelKeysAbsent(in *Input) field.ErrorList          { return nil }
func checkTopologyKeyUnknown(in *Input) field.ErrorList            { return nil }
