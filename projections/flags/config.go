package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// Config is the set of rules a deployment runs, with its thresholds.
type Config struct {
	list []Rule
}

// DefaultConfig is every rule with its national or common default.
func DefaultConfig() Config { return Config{list: defaultRules()} }

// Rules returns the rules in order, for listing (riskRules).
func (c Config) Rules() []Rule {
	if c.list == nil {
		return defaultRules()
	}
	return slices.Clone(c.list)
}

func (c Config) rules() []Rule {
	var out []Rule
	for _, r := range c.Rules() {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

// ruleOverride is one rule's entry in a config file; absent fields keep
// their defaults.
type ruleOverride struct {
	Enabled  *bool   `json:"enabled"`
	Severity *string `json:"severity"`
	Thresholds
}

// LoadConfig reads a JSON rules file over the defaults:
//
//	{"rules": {"REPEAT_MISSING": {"count": 4, "window_days": 60}, "RHI_OVERDUE": {"enabled": false}}}
//
// Thresholds with no national basis (repeat missing, above all) are set
// locally; this is how, without a rebuild. The error names the rule and the
// field at fault, and every problem is reported.
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
	return cfg, nil
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
