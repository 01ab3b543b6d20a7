package policies

import "k8s.io/apimachinery/pkg/util/validation/field"

func checkAgentTolerationsMissing(in *Input) field.ErrorList { return nil }
func checkTolerationValueFragile(in *Input) field.ErrorList  { return nil }
