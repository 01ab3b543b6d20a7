package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/setwarden/setwarden/policies"
)

// JUnit XML, in the shape CI systems read (Jenkins, GitLab, GitHub
// actions): testsuites > testsuite > testcase > failure | error | skipped.
type (
	// JUnitSuites is the root element.
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	// JUnitSuite groups the testcases of one file.
	JUnitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []JUnitCase `xml:"testcase"`
	}
	// JUnitCase is one rule on one object, or one input error.
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Line      int           `xml:"line,attr,omitempty"`
		Failures  []JUnitResult `xml:"failure"`
		Error     *JUnitResult  `xml:"error"`
		Skipped   *JUnitSkipped `xml:"skipped"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	// JUnitResult is a failure or an error.
	JUnitResult struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	// JUnitSkipped marks a rule that did not run or was exempted.
	JUnitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

// JUnit returns a renderer of the report as JUnit XML: one testsuite per
// file, one testcase per evaluated object and enabled rule (it needs a
// report built with KeepChecked), failing for findings whose action fails
// the check under failOn. Other findings (Audit, Mutate, and Warn unless
// failOn is warn) are listed in the testcase's system-out; rules skipped
// for lack of data or exempted are skipped testcases; input errors are
// testcases with an error.
func JUnit(failOn FailOn) func(io.Writer, *Report) error {
	return func(w io.Writer, r *Report) error {
		doc := buildJUnit(r, failOn)
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	}
}

type junitKey struct {
	file string
	line int
	obj  ObjectRef
	rule string
}

func buildJUnit(r *Report, failOn FailOn) *JUnitSuites {
	findings := map[junitKey][]Result{}
	for _, res := range r.Results {
		k := junitKey{file: res.File, line: res.Line, obj: res.Object, rule: res.Rule}
		findings[k] = append(findings[k], res)
	}
	root := &JUnitSuites{Name: "setwarden", Suites: []JUnitSuite{}}
	suites := map[string]int{} // file -> index in root.Suites
	var cases []struct {
		file string
		c    JUnitCase
	}
	for _, obj := range r.Checked {
		for _, rule := range obj.Rules {
			k := junitKey{file: obj.File, line: obj.Line, obj: obj.Object, rule: rule}
			c := junitRuleCase(obj, rule, findings[k], failOn)
			cases = append(cases, struct {
				file string
				c    JUnitCase
			}{obj.File, c})
		}
	}
	for _, e := range r.Errors {
		c := JUnitCase{Name: "read", Classname: e.File, File: e.File, Line: e.Line,
			Error: &JUnitResult{Message: withObject(e), Type: "InputError", Text: withObject(e)}}
		cases = append(cases, struct {
			file string
			c    JUnitCase
		}{e.File, c})
	}
	for _, c := range cases {
		i, ok := suites[c.file]
		if !ok {
			i = len(root.Suites)
			suites[c.file] = i
			root.Suites = append(root.Suites, JUnitSuite{Name: c.file})
		}
		s := &root.Suites[i]
		s.Cases = append(s.Cases, c.c)
		s.Tests++
		switch {
		case len(c.c.Failures) > 0:
			s.Failures++
		case c.c.Error != nil:
			s.Errors++
		case c.c.Skipped != nil:
			s.Skipped++
		}
	}
	for _, s := range root.Suites {
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		root.Skipped += s.Skipped
	}
	return root
}

func junitRuleCase(obj Checked, rule string, results []Result, failOn FailOn) JUnitCase {
	c := JUnitCase{Name: rule, Classname: obj.Object.KindGroup() + " " + obj.Object.NamespacedName(), File: obj.File, Line: obj.Line}
	var out []string
	for _, res := range results {
		line := joinNonEmpty(": ", res.Field, res.Message)
		if failOn.Fails(res.Action) {
			c.Failures = append(c.Failures, JUnitResult{Message: line, Type: string(res.Action),
				Text: fmt.Sprintf("%s: %s %s\n%s", place(res.File, res.FieldLine), res.Action, rule, line)})
		} else {
			out = append(out, fmt.Sprintf("%s: %s %s: %s", place(res.File, res.FieldLine), res.Action, rule, line))
		}
	}
	c.SystemOut = strings.Join(out, "\n")
	switch {
	case len(c.Failures) > 0 || len(results) > 0:
	case obj.Skipped[rule] != "":
		c.Skipped = &JUnitSkipped{Message: "skipped for lack of data: " + obj.Skipped[rule]}
	case obj.Exempted[rule]:
		c.Skipped = &JUnitSkipped{Message: "exempted"}
	}
	return c
}

// EnabledRules returns the IDs of the rules that apply to a kind and are
// not Off in a namespace under cfg, in catalogue order: the rules JUnit
// lists for an object.
func EnabledRules(cfg *policies.Config, kind, namespace string) []string {
	var ids []string
	for i := range policies.Rules {
		rule := &policies.Rules[i]
		if ruleAppliesTo(rule.ID, kind) && cfg.ActionFor(rule, namespace) != policies.ActionOff {
			ids = append(ids, rule.ID)
		}
	}
	return ids
}

// ruleAppliesTo tells the rules of one kind by their ID, as the catalogue
// names them; the catalogue does not record kinds (the rules simply find
// nothing on other kinds), and a JUnit testcase for a StatefulSet rule on a
// Deployment would only be noise.
func ruleAppliesTo(id, kind string) bool {
	switch {
	case strings.HasPrefix(id, "statefulset-"):
		return kind == "StatefulSet"
	case strings.HasPrefix(id, "daemonset-"), id == policies.RuleAgentTolerations:
		return kind == "DaemonSet"
	}
	return true
}
