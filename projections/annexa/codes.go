package annexa

import (
	"time"
	_ "time/tzdata" // the template's dates are London dates on any machine

	"github.com/chronicle-hub/chronicle/events"
)

var london, _ = time.LoadLocation("Europe/London")

// The template's coded values: the DfE codes with the letter Ofsted's
// drop-down lists put before them.
var (
	sexLabels = map[string]string{"1": "a) Male", "2": "b) Female", "0": "c) Not stated/recorded", "9": "c) Not stated/recorded"}
	// ethnicityOrder is the template's order; its letters follow it (the
	// template gives REFU and NOBT the same letter).
	ethnicityOrder = []string{"WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"}
	sourceLabels   = map[string]string{
		"1A": "a) 1A: Individual", "1B": "b) 1B: Individual", "1C": "c) 1C: Individual", "1D": "d) 1D: Individual",
		"2A": "e) 2A: Schools", "2B": "f) 2B: Education services",
		"3A": "g) 3A: Health services", "3B": "h) 3B: Health services", "3C": "i) 3C: Health services", "3D": "j) 3D: Health services",
		"3E": "k) 3E: Health services", "3F": "l) 3F: Health services", "4": "m) 4: Housing",
		"5A": "n) 5A: LA services", "5B": "o) 5B: LA services", "5C": "p) 5C: LA services", "5D": "p1) 5D: LA services",
		"6": "q) 6: Police", "7": "r) 7: Other legal agency", "8": "s) 8: Other", "9": "t) 9: Anonymous", "10": "u) 10: Unknown",
	}
	categoryLabels = map[string]string{"NEG": "a) Neglect", "PHY": "b) Physical abuse", "SAB": "c) Sexual abuse", "EMO": "d) Emotional abuse", "MUL": "e) Multiple/not recommended"}
)

func sexLabel(code string) string {
	if l, ok := sexLabels[code]; ok {
		return l
	}
	return "c) Not stated/recorded"
}

func ethnicityLabel(code string) string {
	for i, c := range ethnicityOrder {
		if c == code {
			letter := string(rune('a' + i))
			if i == len(ethnicityOrder)-1 {
				letter = "s"
			}
			return letter + ") " + code
		}
	}
	return ""
}

func sourceLabel(code string) string { return sourceLabels[code] }

func categoryLabel(code string) string { return categoryLabels[code] }

// needLabel and closureLabel are "code - meaning", as the template has them.
func needLabel(code string) string { return dashed(events.PrimaryNeeds, code) }

func closureLabel(code string) string { return dashed(events.ClosureReasons, code) }

func dashed(l *events.CodeList, code string) string {
	if code == "" {
		return ""
	}
	return code + " - " + l.Meaning(code)
}

func agencyLabel(code string) string {
	if m := events.Agencies.Meaning(code); m != "" {
		return m
	}
	return code
}
