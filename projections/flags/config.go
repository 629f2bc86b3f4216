package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/chronicle-hub/chronicle/events"
)

// Config is the set of rules a deployment runs, with its thresholds.
type Config struct {
	list []Rule
	// enabled is list's enabled rules, worked out once (withEnabled):
	// every evaluation of every child reads them.
	enabled []Rule
}

// DefaultConfig is every rule with its national or common default.
func DefaultConfig() Config { return Config{list: defaultRules()}.withEnabled() }

// withEnabled returns c with its enabled rules worked out.
func (c Config) withEnabled() Config {
	c.enabled = nil
	for _, r := range c.list {
		if r.Enabled {
			c.enabled = append(c.enabled, r)
		}
	}
	return c
}

// Rules returns the rules in order, for listing (riskRules).
func (c Config) Rules() []Rule {
	if c.list == nil {
		return defaultRules()
	}
	return slices.Clone(c.list)
}

// builtIn is the default rules, built once: every evaluation of every
// child reads them, and building them (their rationales are long strings)
// cost as much as some rules. Only read it; Rules hands out copies.
var builtIn = sync.OnceValue(defaultRules)

// rules is the enabled rules, for evaluation; the Rule values are not to be
// changed.
func (c Config) rules() []Rule {
	if c.list == nil {
		return builtInEnabled()
	}
	return c.enabled
}

// builtInEnabled is the enabled default rules, for the zero Config.
var builtInEnabled = sync.OnceValue(func() []Rule { return Config{list: builtIn()}.withEnabled().enabled })

// Options are a rule's readings of the guidance that are not numbers: where
// the guidance leaves a choice, or a hub may depart from it locally. Each
// rule names the ones it reads in Uses, by their JSON names.
type Options struct {
	// CountAbsences counts episodes recorded as absences (whereabouts
	// known) as well as missing ones. The guidance and SSDA903 keep them
	// apart, so the default is false.
	CountAbsences bool
	// Concerns are the event types that count as an agency's concern for
	// MULTI_AGENCY_CONCERNS. A type's own test still applies (an emergency
	// department attendance counts only with an injury or a safeguarding
	// concern); see the concerns table.
	Concerns []events.Type
	// Deadline is how "within n working days" (or months) is read:
	// DeadlineDate (the default) or DeadlineClock.
	Deadline string
}

// ruleOverride is one rule's entry in a config file; absent fields keep
// their defaults.
type ruleOverride struct {
	Enabled       *bool     `json:"enabled"`
	Severity      *string   `json:"severity"`
	CountAbsences *bool     `json:"count_absences"`
	Concerns      *[]string `json:"concerns"`
	Deadline      *string   `json:"deadline"`
	Thresholds
}

// LoadConfig reads a JSON rules file over the defaults:
//
//	{"rules": {"REPEAT_MISSING": {"count": 4, "window_days": 60, "count_absences": true},
//	           "MULTI_AGENCY_CONCERNS": {"concerns": ["health.concern", "education.concern"]},
//	           "ICPC_OVERDUE": {"deadline": "clock"}, "RHI_OVERDUE": {"enabled": false}}}
//
// Thresholds with no national basis (repeat missing, above all) are set
// locally, and so are the readings of the guidance a hub may choose
// otherwise (Options); this is how, without a rebuild. The error names the
// rule and the field at fault (concerns[2] for the third listed type), and
// every problem is reported.
func LoadConfig(r io.Reader) (Config, error) {
	var file struct {
		Rules map[string]json.RawMessage `json:"rules"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return Config{}, fmt.Errorf("rules config: %w", err)
	}
	cfg := DefaultConfig()
	var errs []error
	codes := make([]string, 0, len(file.Rules))
	for code := range file.Rules {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		i := slices.IndexFunc(cfg.list, func(r Rule) bool { return r.Code == code })
		if i < 0 {
			errs = append(errs, fmt.Errorf("rules config: %s: no such rule (known: %s)", code, strings.Join(ruleCodes(cfg.list), ", ")))
			continue
		}
		if err := cfg.list[i].apply(file.Rules[code]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg.withEnabled(), nil
}

func ruleCodes(rs []Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// apply overlays one rule's settings, checking each field.
func (r *Rule) apply(raw json.RawMessage) error {
	var o ruleOverride
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("rules config: %s: %w", r.Code, err)
	}
	var errs []error
	if o.Enabled != nil {
		r.Enabled = *o.Enabled
	}
	if o.Severity != nil {
		switch *o.Severity {
		case High, Medium, Low:
			r.Severity = *o.Severity
		default:
			errs = append(errs, fmt.Errorf("rules config: %s.severity: %q is not high, medium or low", r.Code, *o.Severity))
		}
	}
	unused := func(name string) bool {
		if slices.Contains(r.Uses, name) {
			return false
		}
		errs = append(errs, fmt.Errorf("rules config: %s.%s: not used by this rule (it uses %s)", r.Code, name, usesText(r.Uses)))
		return true
	}
	if o.CountAbsences != nil && !unused("count_absences") {
		r.Options.CountAbsences = *o.CountAbsences
	}
	if o.Deadline != nil && !unused("deadline") {
		switch *o.Deadline {
		case DeadlineDate, DeadlineClock:
			r.Options.Deadline = *o.Deadline
		default:
			errs = append(errs, fmt.Errorf("rules config: %s.deadline: %q is not %s or %s", r.Code, *o.Deadline, DeadlineDate, DeadlineClock))
		}
	}
	if o.Concerns != nil && !unused("concerns") {
		types, err := concernTypesOf(r.Code, *o.Concerns)
		if err != nil {
			errs = append(errs, err)
		} else {
			r.Options.Concerns = types
		}
	}
	set := reflect.ValueOf(o.Thresholds)
	cur := reflect.ValueOf(&r.Thresholds).Elem()
	for i := 0; i < set.NumField(); i++ {
		name, _, _ := strings.Cut(set.Type().Field(i).Tag.Get("json"), ",")
		v := set.Field(i).Int()
		if v == 0 {
			if strings.Contains(string(raw), `"`+name+`"`) {
				errs = append(errs, fmt.Errorf("rules config: %s.%s: must be a positive whole number", r.Code, name))
			}
			continue
		}
		switch {
		case !slices.Contains(r.Uses, name):
			errs = append(errs, fmt.Errorf("rules config: %s.%s: not used by this rule (it uses %s)", r.Code, name, usesText(r.Uses)))
		case v < 0:
			errs = append(errs, fmt.Errorf("rules config: %s.%s: must be a positive whole number, not %d", r.Code, name, v))
		case v > 3650:
			errs = append(errs, fmt.Errorf("rules config: %s.%s: %d is implausibly large", r.Code, name, v))
		default:
			cur.Field(i).SetInt(v)
		}
	}
	return errors.Join(errs...)
}

func usesText(uses []string) string {
	if len(uses) == 0 {
		return "no thresholds"
	}
	return strings.Join(uses, ", ")
}

// concernTypesOf checks a configured list of concern types: each must be in
// the catalogue, not the hub's own record-keeping, and listed once.
func concernTypesOf(code string, list []string) ([]events.Type, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("rules config: %s.concerns: must name at least one event type (to count none, disable the rule)", code)
	}
	var errs []error
	var out []events.Type
	for i, s := range list {
		t := events.Type(s)
		field := fmt.Sprintf("rules config: %s.concerns[%d]", code, i)
		switch {
		case !known(t):
			errs = append(errs, fmt.Errorf("%s: %q is not an event type (see eventTypes)", field, s))
		case recordKeeping(t):
			errs = append(errs, fmt.Errorf("%s: %q is the hub's own record-keeping, which is never a concern about a child", field, s))
		case slices.Contains(out, t):
			errs = append(errs, fmt.Errorf("%s: %q is listed twice", field, s))
		default:
			out = append(out, t)
		}
	}
	return out, errors.Join(errs...)
}

func known(t events.Type) bool {
	_, ok := events.Lookup(t)
	return ok
}

// Setting is one of a rule's options as text, for listing (riskRules).
type Setting struct {
	Name  string
	Value string
}

// Settings returns the options the rule reads, with their values here.
func (r Rule) Settings() []Setting {
	var out []Setting
	for _, name := range r.Uses {
		switch name {
		case "count_absences":
			out = append(out, Setting{name, fmt.Sprint(r.Options.CountAbsences)})
		case "deadline":
			out = append(out, Setting{name, r.Options.Deadline})
		case "concerns":
			var list []string
			for _, t := range r.Options.Concerns {
				list = append(list, string(t))
			}
			out = append(out, Setting{name, strings.Join(list, ", ")})
		}
	}
	return out
}

// ThresholdText renders a rule's thresholds for people: "count 3, window_days 90".
func (r Rule) ThresholdText() string {
	v := reflect.ValueOf(r.Thresholds)
	var parts []string
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if slices.Contains(r.Uses, name) {
			parts = append(parts, fmt.Sprintf("%s %d", name, v.Field(i).Int()))
		}
	}
	return strings.Join(parts, ", ")
}
