package events

import (
	"fmt"
	"strings"
)

// Scheme names a kind of identifier an agency knows a person by.
type Scheme string

// The identifier schemes Chronicle understands. Each agency keys its own
// records differently; the identity projection joins them.
const (
	// SchemeNHSNumber is the 10-digit NHS number used by health. The last
	// digit is a modulus-11 check digit, which catches most keying errors.
	SchemeNHSNumber Scheme = "nhs_number"
	// SchemeUPN is the 13-character Unique Pupil Number used by schools:
	// a check letter, the LA number, the establishment number, the year and
	// a serial (the last character is a letter for a temporary UPN).
	SchemeUPN Scheme = "upn"
	// SchemeLAPersonID is the local authority's own person id, from its
	// children's social care case management system.
	SchemeLAPersonID Scheme = "la_person_id"
	// SchemePolicePersonID is the police force's person id (for example a
	// Niche or Athena nominal id).
	SchemePolicePersonID Scheme = "police_person_id"
	// SchemeUnbornOf is derived, never sent: an unborn child with no record of
	// its own yet is known as "the unborn child of" the mother's identifier,
	// written "<scheme>:<value>" (for example "nhs_number:9990000018").
	SchemeUnbornOf Scheme = "unborn_of"
)

// Schemes lists the schemes an agency may send, in a stable order.
var Schemes = []Scheme{SchemeNHSNumber, SchemeUPN, SchemeLAPersonID, SchemePolicePersonID}

// Identifier is one (scheme, value) pair.
type Identifier struct {
	Scheme Scheme `json:"scheme"`
	Value  string `json:"value"`
}

// String renders "scheme:value".
func (id Identifier) String() string { return string(id.Scheme) + ":" + id.Value }

// Identifiers are the ids one agency or event gives a person. All are
// optional, but a child subject needs at least one.
type Identifiers struct {
	NHSNumber      string `json:"nhs_number,omitempty"`
	UPN            string `json:"upn,omitempty"`
	LAPersonID     string `json:"la_person_id,omitempty"`
	PolicePersonID string `json:"police_person_id,omitempty"`
}

// List returns the non-empty identifiers in scheme order.
func (ids Identifiers) List() []Identifier { return ids.AppendTo(make([]Identifier, 0, 4)) }

// AppendTo appends the identifiers List returns to dst: a caller that
// reads them once per event can keep one buffer.
func (ids Identifiers) AppendTo(dst []Identifier) []Identifier {
	for _, s := range Schemes {
		if v := ids.Get(s); v != "" {
			dst = append(dst, Identifier{Scheme: s, Value: v})
		}
	}
	return dst
}

// Get returns the value for a scheme, or "" when absent or unknown.
func (ids Identifiers) Get(s Scheme) string {
	switch s {
	case SchemeNHSNumber:
		return ids.NHSNumber
	case SchemeUPN:
		return ids.UPN
	case SchemeLAPersonID:
		return ids.LAPersonID
	case SchemePolicePersonID:
		return ids.PolicePersonID
	}
	return ""
}

// IsZero reports whether no identifier is set.
func (ids Identifiers) IsZero() bool { return ids == Identifiers{} }

func (ids Identifiers) validate() error {
	var p ProblemSet
	for _, id := range ids.List() {
		if err := ValidateIdentifier(id); err != nil {
			p.Add(string(id.Scheme), "%s", err.Error())
		}
	}
	return p.Err()
}

// maxLocalID caps local person ids; real systems use short keys.
const maxLocalID = 64

// ValidateIdentifier checks the format and check digit of one identifier. It
// returns a plain error (no field path) describing the problem.
func ValidateIdentifier(id Identifier) error {
	switch id.Scheme {
	case SchemeNHSNumber:
		return checkNHSNumber(id.Value)
	case SchemeUPN:
		return checkUPN(id.Value)
	case SchemeLAPersonID, SchemePolicePersonID:
		switch {
		case strings.TrimSpace(id.Value) == "":
			return fmt.Errorf("must not be blank")
		case len(id.Value) > maxLocalID:
			return fmt.Errorf("must be at most %d characters", maxLocalID)
		case strings.ContainsAny(id.Value, "\r\n\t"):
			return fmt.Errorf("must not contain control characters")
		}
		return nil
	case SchemeUnbornOf:
		scheme, value, ok := strings.Cut(id.Value, ":")
		if !ok || Scheme(scheme) == SchemeUnbornOf {
			return fmt.Errorf("must be the mother's identifier as scheme:value, for example nhs_number:9990000018")
		}
		if err := ValidateIdentifier(Identifier{Scheme: Scheme(scheme), Value: value}); err != nil {
			return fmt.Errorf("mother's %s: %w", scheme, err)
		}
		return nil
	case "":
		return fmt.Errorf("scheme is required")
	default:
		return fmt.Errorf("unknown scheme %s (want one of %s)", quote(string(id.Scheme)), joinQuoted(Schemes))
	}
}

// checkNHSNumber applies the NHS number modulus-11 check (see NHSCheckDigit).
func checkNHSNumber(s string) error {
	if len(s) != 10 || !allDigits(s) {
		return fmt.Errorf("must be exactly 10 digits without spaces")
	}
	if d := NHSCheckDigit(s[:9]); d < 0 || d != int(s[9]-'0') {
		return fmt.Errorf("check digit does not match")
	}
	return nil
}

// upnLetters maps 0..22 to the UPN check letters; I, O and S are never used.
const upnLetters = "ABCDEFGHJKLMNPQRTUVWXYZ"

// checkUPN applies the DfE UPN check: weight characters 2 to 13 by their
// position (2..13), counting a temporary UPN's final letter by its place in
// upnLetters, and the sum modulo 23 picks the check letter.
func checkUPN(s string) error {
	if len(s) != 13 {
		return fmt.Errorf("must be exactly 13 characters")
	}
	want, err := upnCheck(s[1:])
	if err != nil {
		return err
	}
	if s[0] != want {
		return fmt.Errorf("check letter does not match")
	}
	return nil
}

// upnCheck computes the check letter for the 12 characters after it.
func upnCheck(last12 string) (byte, error) {
	if !allDigits(last12[:11]) {
		return 0, fmt.Errorf("characters 2 to 12 must be digits")
	}
	sum := 0
	for i := 0; i < 12; i++ {
		c := last12[i]
		v := int(c - '0')
		if i == 11 && !isDigit(c) {
			v = strings.IndexByte(upnLetters, c)
			if v < 0 {
				return 0, fmt.Errorf("character 13 must be a digit or a letter other than I, O or S")
			}
		}
		sum += v * (i + 2)
	}
	return upnLetters[sum%23], nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// NHSCheckDigit returns the check digit for the first nine digits of an NHS
// number, or -1 when no valid number starts with them. The rule is modulus 11:
// weight the nine digits 10 down to 2, sum, and 11 minus the remainder is the
// check digit (11 becomes 0; 10 means no number with that stem is issued). Test data generators
// use it to build numbers in the 999 range reserved for testing.
func NHSCheckDigit(first9 string) int {
	if len(first9) != 9 || !allDigits(first9) {
		return -1
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(first9[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		return 0
	case 10:
		return -1
	}
	return check
}

// UPNCheckLetter returns the check letter for the last 12 characters of a
// UPN, or 0 when they are malformed.
func UPNCheckLetter(last12 string) byte {
	if len(last12) != 12 {
		return 0
	}
	c, err := upnCheck(last12)
	if err != nil {
		return 0
	}
	return c
}
