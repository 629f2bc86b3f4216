package cin

import (
	"fmt"
	"slices"

	"github.com/chronicle-hub/chronicle/events"
)

// The census schema years Chronicle knows. A file of an earlier year is read
// with FirstYear's shape and a later one with LastYear's, and the import
// says so.
const (
	FirstYear = 2017
	LastYear  = 2024
)

// SchemaYear returns the schema year used to read a file of year y, and a
// note when it is not y itself.
func SchemaYear(y int) (int, string) {
	switch {
	case y < FirstYear:
		return FirstYear, fmt.Sprintf("census year %d is older than the schemas Chronicle knows; read with the %d schema", y, FirstYear)
	case y > LastYear:
		return LastYear, fmt.Sprintf("census year %d is newer than the schemas Chronicle knows; read with the %d schema", y, LastYear)
	}
	return y, ""
}

// elem is one element of an XSD sequence: its name and how often it may
// occur (max -1 is unbounded). The sequences below are the DfE XSD's element
// order, which the export writes in.
type elem struct {
	name     string
	min, max int
}

var (
	childSeq       = []elem{{"ChildIdentifiers", 1, 1}, {"ChildCharacteristics", 1, 1}, {"CINdetails", 1, -1}}
	identifiersSeq = []elem{{"LAchildID", 1, 1}, {"UPN", 0, 1}, {"FormerUPN", 0, 1}, {"UPNunknown", 0, 1},
		{"PersonBirthDate", 0, 1}, {"ExpectedPersonBirthDate", 0, 1}, {"GenderCurrent", 1, 1}, {"PersonDeathDate", 0, 1}}
	characteristicsSeq = []elem{{"Ethnicity", 1, 1}, {"Disabilities", 0, 1}}
	disabilitiesSeq    = []elem{{"Disability", 1, -1}}
	assessmentSeq      = []elem{{"AssessmentActualStartDate", 1, 1}, {"AssessmentInternalReviewDate", 0, 1},
		{"AssessmentAuthorisationDate", 0, 1}, {"FactorsIdentifiedAtAssessment", 0, 1}}
	factorsSeq    = []elem{{"AssessmentFactors", 1, -1}}
	cinPlanSeq    = []elem{{"CINPlanStartDate", 1, 1}, {"CINPlanEndDate", 0, 1}}
	section47Seq  = []elem{{"S47ActualStartDate", 1, 1}, {"InitialCPCtarget", 0, 1}, {"DateOfInitialCPC", 0, 1}, {"ICPCnotRequired", 1, 1}}
	cpPlanSeq     = []elem{{"CPPstartDate", 1, 1}, {"CPPendDate", 0, 1}, {"InitialCategoryOfAbuse", 1, 1}, {"LatestCategoryOfAbuse", 1, 1}, {"NumberOfPreviousCPP", 1, 1}, {"Reviews", 0, 1}}
	reviewsSeq    = []elem{{"CPPreviewDate", 1, -1}}
	cinPlanFirst  = 2022 // CINPlanDates joined the census in the 2021-22 collection
	factorsSplit  = 2021 // 18A and 19A became 18B/18C and 19B/19C
	factor24First = 2022 // 24A, child criminal exploitation
	earlyHelp     = 2023 // referral source 5D and closure reason RC9
)

// cinDetailsSeq is the CINdetails sequence of schema year y.
func cinDetailsSeq(y int) []elem {
	seq := []elem{{"CINreferralDate", 1, 1}, {"ReferralSource", 1, 1}, {"PrimaryNeedCode", 0, 1}, {"CINclosureDate", 0, 1},
		{"ReasonForClosure", 0, 1}, {"DateOfInitialCPC", 0, 1}, {"Assessments", 0, -1}}
	if y >= cinPlanFirst {
		seq = append(seq, elem{"CINPlanDates", 0, -1})
	}
	return append(seq, elem{"Section47", 0, -1}, elem{"ReferralNFA", 1, 1}, elem{"ChildProtectionPlans", 0, -1})
}

// checkShape reports elements of n that the sequence does not allow or that
// are out of its order, and required or single elements that occur the
// wrong number of times.
func checkShape(p *events.ProblemSet, n *node, path string, seq []elem, year int) {
	last := 0
	for _, k := range n.kids {
		at := slices.IndexFunc(seq, func(e elem) bool { return e.name == k.name })
		switch {
		case at < 0:
			p.Add(join(path, k.name), "is not an element of %s in the %d census schema (line %d)", n.name, year, k.line)
		case at < last:
			p.Add(join(path, k.name), "is out of the schema's order: it comes before %s in %s (line %d)", seq[last].name, n.name, k.line)
		default:
			last = at
		}
	}
	for _, e := range seq {
		got := len(n.all(e.name))
		switch {
		case got < e.min:
			p.Add(join(path, e.name), "is required in %s (line %d)", n.name, n.line)
		case e.max >= 0 && got > e.max:
			p.Add(join(path, e.name), "occurs %d times in %s (line %d); at most %d allowed", got, n.name, n.line, e.max)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "/" + name
}

// codeInYear reports whether code is valid in schema year y: the catalogue's
// lists hold every code ever used, and some came or went over the years.
func codeInYear(list *events.CodeList, code string, y int) error {
	if !list.Has(code) {
		return fmt.Errorf("%q is not a %s code", code, list.Name)
	}
	ok := true
	switch list {
	case events.ReferralSources:
		ok = code != "5D" || y >= earlyHelp
	case events.ClosureReasons:
		ok = code != "RC9" || y >= earlyHelp
	case events.AssessmentFactors:
		switch code {
		case "18A", "19A":
			ok = y < factorsSplit
		case "18B", "18C", "19B", "19C":
			ok = y >= factorsSplit
		case "24A":
			ok = y >= factor24First
		}
	}
	if !ok {
		return fmt.Errorf("%q is not a %s code in the %d census", code, list.Name, y)
	}
	return nil
}
