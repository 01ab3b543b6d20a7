package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

// checkUnknownFields returns the unknown and duplicate fields the offline
// check's strict decoding found. The API server drops an unknown field (or
// refuses the object under strict field validation) before admission, so a
// misspelled nodeAffinity or tolerations silently loses what every other
// rule would have checked; only the offline check can still see it.
func checkUnknownFields(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	for _, err := range in.DecodeErrors {
		e := *err // the engine may append to a finding's detail
		allErrs = append(allErrs, &e)
	}
	return allErrs
}
