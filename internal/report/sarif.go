package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/setwarden/setwarden/internal/version"
	"github.com/setwarden/setwarden/policies"
)

// SARIFSchema is the schema the SARIF output declares.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// ToolURI is setwarden's home page, the SARIF driver's informationUri.
const ToolURI = "https://github.com/setwarden/setwarden"

// The subset of SARIF 2.1.0 that setwarden writes. Field names and
// optionality follow the OASIS schema (sarif-schema-2.1.0.json).
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string        `json:"id"`
		ShortDescription     sarifText     `json:"shortDescription"`
		FullDescription      sarifText     `json:"fullDescription"`
		Help                 sarifText     `json:"help"`
		HelpURI              string        `json:"helpUri"`
		DefaultConfiguration sarifRuleConf `json:"defaultConfiguration"`
	}
	sarifRuleConf struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
	sarifResult struct {
		RuleID     string            `json:"ruleId"`
		RuleIndex  int               `json:"ruleIndex"`
		Level      string            `json:"level"`
		Message    sarifText         `json:"message"`
		Locations  []sarifLocation   `json:"locations"`
		Properties map[string]string `json:"properties"`
	}
	sarifLocation struct {
		PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogical struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
)

// sarifLevel maps an action to a SARIF level: Deny is an error; Warn, and
// a Mutate gap (which --fix closes), warnings; Audit a note.
func sarifLevel(a policies.Action) string {
	switch a {
	case policies.ActionDeny:
		return "error"
	case policies.ActionWarn, policies.ActionMutate:
		return "warning"
	}
	return "note"
}

// sarifWriter streams a SARIF log. The run's invocation, which says
// whether input errors occurred, comes before its results in the
// document, so the results wait in a temporary file, each already
// rendered as it is inside the document.
type sarifWriter struct {
	w       io.Writer
	spool   spool
	results *jsonArray
	index   map[string]int // rule ID -> index in the driver's rules
}

// NewSARIF returns a Writer of the report as a SARIF 2.1.0 log for
// code-scanning tools: one rule entry per rule ID of the catalogue, and
// each finding located at the line of the offending field when the reader
// could place it, else at the object's first line. Input errors are tool
// notifications.
func NewSARIF(w io.Writer) Writer {
	s := &sarifWriter{w: w, spool: spool{pattern: "setwarden-sarif-*"}, index: map[string]int{}}
	s.results = newJSONArray(&s.spool, 4) // root > runs > run > results
	for i := range policies.Rules {
		s.index[policies.Rules[i].ID] = i
	}
	return s
}

func (s *sarifWriter) Object(_ *Checked, results []Result) error {
	for i := range results {
		if err := s.results.add(sarifResultOf(&results[i], s.index)); err != nil {
			return err
		}
	}
	return nil
}

// sarifResultOf returns the SARIF result of res; index maps rule IDs to
// their index in the driver's rules.
func sarifResultOf(res *Result, index map[string]int) sarifResult {
	return sarifResult{
		RuleID: res.Rule, RuleIndex: index[res.Rule], Level: sarifLevel(res.Action),
		Message:    sarifText{Text: fmt.Sprintf("%s %s: %s", res.Object.KindGroup(), res.Object.NamespacedName(), joinNonEmpty(": ", res.Field, res.Message))},
		Locations:  []sarifLocation{sarifLocate(res.File, res.FieldLine, &res.Object)},
		Properties: map[string]string{"action": string(res.Action), "field": res.Field},
	}
}

func (s *sarifWriter) Finish(r *Report) error {
	err := s.write(r)
	if rerr := s.spool.remove(); err == nil {
		err = rerr
	}
	return err
}

// write writes the log without results, with the spooled results spliced
// into its empty results array, the last array of the document.
func (s *sarifWriter) write(r *Report) error {
	doc, err := encodeIndented(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{sarifRunOf(r)}})
	if err != nil {
		return err
	}
	const empty = `"results": []`
	i := bytes.LastIndex(doc, []byte(empty)) + len(empty) - 1 // at the "]"
	bw := bufio.NewWriter(s.w)
	bw.Write(doc[:i])
	if err := s.spool.copyTo(bw, 0, s.spool.size); err != nil {
		return err
	}
	bw.WriteString(strings.TrimSuffix(s.results.end(), "]")) // doc[i:] has it
	bw.Write(doc[i:])
	return bw.Flush()
}

// sarifRunOf returns the run of the report, without its results.
func sarifRunOf(r *Report) sarifRun {
	run := sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: "setwarden", Version: version.Get().Short(), InformationURI: ToolURI, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: len(r.Errors) == 0}},
		Results:     []sarifResult{},
	}
	for i := range policies.Rules {
		rule := &policies.Rules[i]
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   rule.ID,
			ShortDescription:     sarifText{Text: rule.Description},
			FullDescription:      sarifText{Text: rule.Description},
			Help:                 sarifText{Text: fmt.Sprintf("%s See %s", rule.Description, rule.Anchor())},
			HelpURI:              rule.Anchor(),
			DefaultConfiguration: sarifRuleConf{Level: sarifLevel(rule.DefaultAction)},
		})
	}
	for _, e := range r.Errors {
		run.Invocations[0].ToolExecutionNotifications = append(run.Invocations[0].ToolExecutionNotifications, sarifNotification{
			Level: "error", Message: sarifText{Text: withObject(e)}, Locations: []sarifLocation{sarifLocate(e.File, e.Line, e.Object)},
		})
	}
	return run
}

func sarifLocate(file string, line int, obj *ObjectRef) sarifLocation {
	var loc sarifLocation
	if file != "" { // an audit's objects are in the cluster, not in a file
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(file)}}
	}
	if line > 0 && file != "" {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	}
	if obj != nil {
		loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: obj.KindGroup() + "/" + obj.NamespacedName(), Kind: "object"}}
	}
	return loc
}

// sarifURI turns a file name into a relative URI reference, as code
// scanning expects paths relative to the repository root.
func sarifURI(file string) string {
	file = filepath.ToSlash(file)
	file = strings.TrimPrefix(file, "./")
	return (&url.URL{Path: file}).String()
}
