package policies

import (
	"slices"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ObjectExemption exempts one object, by kind, namespace and name, from
// some rules or all of them: third-party software that cannot carry the
// exemption annotation (its chart does not let one set it) is exempted in
// the PolicyConfig instead.
type ObjectExemption struct {
	// Kind is a workload kind, such as StatefulSet.
	Kind string `json:"kind"`
	// Namespace and Name name the object.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Rules are the rule IDs the object is exempt from; empty means all.
	Rules []string `json:"rules,omitempty"`
	// Reason says why; an exemption without one is refused.
	Reason string `json:"reason"`
}

// String names the exempted object, as in "StatefulSet vendor/redis".
func (x *ObjectExemption) String() string { return x.Kind + " " + x.Namespace + "/" + x.Name }

func validateObjectExemptions(objects []ObjectExemption, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	var kindNames []string
	for _, k := range kinds {
		kindNames = append(kindNames, k.Kind)
	}
	for i := range objects {
		x, idxPath := &objects[i], fldPath.Index(i)
		if !slices.Contains(kindNames, x.Kind) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("kind"), x.Kind, kindNames))
		}
		if x.Namespace == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("namespace"), "the namespace of "+x.Kind+" "+x.Name))
		} else {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(x.Namespace, false) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("namespace"), x.Namespace, msg))
			}
		}
		if x.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), "the name of the exempted "+x.Kind))
		} else {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(x.Name, false) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), x.Name, msg))
			}
		}
		for j, id := range x.Rules {
			if _, ok := ruleByID[id]; !ok {
				allErrs = append(allErrs, unknownRuleError(idxPath.Child("rules").Index(j), id))
			}
		}
		if strings.TrimSpace(x.Reason) == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("reason"), "say why "+x.String()+" is exempt"))
		}
	}
	return allErrs
}

// unknownRuleError refuses a rule ID that names no rule, with the closest
// rule ID when one is close, else with every rule ID.
func unknownRuleError(fldPath *field.Path, id string) *field.Error {
	if s := SuggestRuleID(id); s != "" {
		return field.Invalid(fldPath, id, "unknown rule; did you mean \""+s+"\"?")
	}
	return field.NotSupported(fldPath, id, RuleIDs())
}

// objectExempt reports whether the PolicyConfig exempts the workload from a
// rule by naming the object.
func (c *Config) objectExempt(w *Workload, rule string) bool {
	for i := range c.Exemptions.Objects {
		x := &c.Exemptions.Objects[i]
		if x.Kind == w.GroupKind.Kind && x.Name == w.Meta.Name && x.Namespace == w.Namespace() &&
			(len(x.Rules) == 0 || slices.Contains(x.Rules, rule)) {
			return true
		}
	}
	return false
}
