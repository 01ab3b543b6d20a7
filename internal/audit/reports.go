package audit

import (
	"cmp"
	"slices"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

const (
	// ReportSource is the source of every Report setwarden writes, at the
	// Report's level and each result's.
	ReportSource = "setwarden"
	// ManagedByLabel marks setwarden's Reports; watch mode caches only
	// those, leaving other engines' Reports alone.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// propertyField and propertyAction are the result properties holding
	// the finding's field path and its setwarden action.
	propertyField  = "field"
	propertyAction = "action"
)

// result is one finding as a Report holds it.
type result struct {
	Rule    string
	Action  policies.Action
	Field   string
	Message string
	// Fix is the short fix of an Event; it is not stored in Reports.
	Fix string
	// Since is when the finding was first reported; unchanged findings
	// keep it, so that rewriting a Report never moves it.
	Since metav1.Timestamp
}

// same reports whether a and b are one finding with the same wording and
// action, whatever their timestamps.
func (r result) same(o result) bool {
	return r.Rule == o.Rule && r.Action == o.Action && r.Field == o.Field && r.Message == o.Message
}

// compareResults orders results by rule, field and message.
func compareResults(a, b result) int {
	return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Action, b.Action))
}

// resultsOf turns findings into sorted results stamped now.
func resultsOf(findings []policies.Finding, now time.Time) []result {
	rs := make([]result, 0, len(findings))
	for _, f := range findings {
		rs = append(rs, result{Rule: f.Rule, Action: f.Action, Field: f.Err.Field, Message: f.Message(), Fix: f.Fix(),
			Since: metav1.Timestamp{Seconds: now.Unix()}})
	}
	slices.SortFunc(rs, compareResults)
	return slices.CompactFunc(rs, func(a, b result) bool { return a.same(b) })
}

// sameResults reports whether a and b hold the same findings.
func sameResults(a, b []result) bool {
	return slices.EqualFunc(a, b, result.same)
}

// keepSince gives the results of next that prev already held prev's
// timestamps.
func keepSince(next, prev []result) {
	for i := range next {
		if j := slices.IndexFunc(prev, next[i].same); j >= 0 {
			next[i].Since = prev[j].Since
		}
	}
}

// resultSeverity maps an action to a Report result's severity.
func resultSeverity(a policies.Action) reportsv1alpha1.ResultSeverity {
	switch a {
	case policies.ActionDeny:
		return "high"
	case policies.ActionWarn:
		return "medium"
	}
	return "low"
}

// outcome maps an action to a Report result: Deny fails, Warn and Audit
// warn.
func outcome(a policies.Action) reportsv1alpha1.Result {
	if a == policies.ActionDeny {
		return "fail"
	}
	return "warn"
}

// reportName is the name of a workload's Report: its UID, unique in the
// namespace whatever the kind and the length of the name, as Kyverno
// names its own.
func reportName(uid types.UID) string { return string(uid) }

// newReport returns the Report of a workload with findings: scoped to it
// and owned by it, so that the garbage collector deletes it with the
// workload.
func newReport(ref report.ObjectRef, uid types.UID, results []result) *reportsv1alpha1.Report {
	rep := &reportsv1alpha1.Report{
		TypeMeta: metav1.TypeMeta{APIVersion: reportsv1alpha1.GroupVersion.String(), Kind: "Report"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            reportName(uid),
			Namespace:       ref.Namespace,
			Labels:          map[string]string{ManagedByLabel: ReportSource},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: uid}},
		},
		Source: ReportSource,
		Scope:  &corev1.ObjectReference{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, UID: uid},
	}
	rep.Summary, rep.Results = reportResults(results)
	return rep
}

// reportResults renders results and their summary.
func reportResults(results []result) (reportsv1alpha1.ReportSummary, []reportsv1alpha1.ReportResult) {
	var summary reportsv1alpha1.ReportSummary
	out := make([]reportsv1alpha1.ReportResult, 0, len(results))
	for _, r := range results {
		res := outcome(r.Action)
		if res == "fail" {
			summary.Fail++
		} else {
			summary.Warn++
		}
		out = append(out, reportsv1alpha1.ReportResult{
			Source:      ReportSource,
			Policy:      r.Rule,
			Rule:        r.Rule,
			Severity:    resultSeverity(r.Action),
			Timestamp:   r.Since,
			Result:      res,
			Scored:      true,
			Description: r.Message,
			Properties:  map[string]string{propertyField: r.Field, propertyAction: string(r.Action)},
		})
	}
	return summary, out
}

// resultsOfReport reads back the results of a Report setwarden wrote.
func resultsOfReport(rep *reportsv1alpha1.Report) []result {
	rs := make([]result, 0, len(rep.Results))
	for _, r := range rep.Results {
		rs = append(rs, result{Rule: r.Policy, Action: policies.Action(r.Properties[propertyAction]),
			Field: r.Properties[propertyField], Message: r.Description, Since: r.Timestamp})
	}
	slices.SortFunc(rs, compareResults)
	return rs
}
