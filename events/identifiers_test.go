package events

import "testing"

func TestValidateIdentifier(t *testing.T) {
	tests := []struct {
		name    string
		id      Identifier
		wantErr string
	}{
		{"nhs valid", Identifier{SchemeNHSNumber, "9990000018"}, ""},
		{"nhs valid check digit 0 case", Identifier{SchemeNHSNumber, "9990000107"}, ""},
		{"nhs wrong check digit", Identifier{SchemeNHSNumber, "9990000017"}, "check digit does not match"},
		{"nhs too short", Identifier{SchemeNHSNumber, "999000001"}, "must be exactly 10 digits without spaces"},
		{"nhs spaces", Identifier{SchemeNHSNumber, "999 000 0018"}, "must be exactly 10 digits without spaces"},
		{"nhs letters", Identifier{SchemeNHSNumber, "99900000A8"}, "must be exactly 10 digits without spaces"},
		// 999000002 has remainder giving check 10: no valid number exists.
		{"nhs unissuable stem", Identifier{SchemeNHSNumber, "9990000020"}, "check digit does not match"},
		{"upn valid (DfE example)", Identifier{SchemeUPN, "B801200005001"}, ""},
		{"upn valid (census guide example: 266 mod 23 = 13, P)", Identifier{SchemeUPN, "P207000016049"}, ""},
		{"upn wrong check letter", Identifier{SchemeUPN, "A801200005001"}, "check letter does not match"},
		{"upn non-digit middle", Identifier{SchemeUPN, "X80120000A001"}, "characters 2 to 12 must be digits"},
		{"upn temporary with bad final letter", Identifier{SchemeUPN, "A80120000500I"}, "character 13 must be a digit or a letter other than I, O or S"},
		{"upn wrong length", Identifier{SchemeUPN, "B80120000500"}, "must be exactly 13 characters"},
		{"la id", Identifier{SchemeLAPersonID, "LA-1"}, ""},
		{"la id blank", Identifier{SchemeLAPersonID, "  "}, "must not be blank"},
		{"police id newline", Identifier{SchemePolicePersonID, "P1\nP2"}, "must not contain control characters"},
		{"unborn of valid", Identifier{SchemeUnbornOf, "nhs_number:9990000018"}, ""},
		{"unborn of bad inner", Identifier{SchemeUnbornOf, "nhs_number:9990000017"}, "mother's nhs_number: check digit does not match"},
		{"unknown scheme", Identifier{"passport", "X"}, `unknown scheme "passport" (want one of nhs_number, upn, la_person_id, police_person_id)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateIdentifier(tt.id)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("ValidateIdentifier(%v) = %q, want %q", tt.id, got, tt.wantErr)
			}
		})
	}
}

func TestCheckDigitHelpersAgreeWithValidation(t *testing.T) {
	for stem := 999000000; stem < 999000400; stem++ {
		s := itoa9(stem)
		d := NHSCheckDigit(s)
		if d < 0 {
			continue
		}
		if err := checkNHSNumber(s + string(rune('0'+d))); err != nil {
			t.Fatalf("NHSCheckDigit(%s)=%d but validation says %v", s, d, err)
		}
	}
	for _, last12 := range []string{"801200005001", "207000016049", "20700001604A", "999999999999"} {
		c := UPNCheckLetter(last12)
		if c == 0 {
			t.Fatalf("UPNCheckLetter(%s) = 0", last12)
		}
		if err := checkUPN(string(c) + last12); err != nil {
			t.Fatalf("UPNCheckLetter(%s)=%c but validation says %v", last12, c, err)
		}
	}
	if UPNCheckLetter("80120000A001") != 0 {
		t.Fatal("UPNCheckLetter accepted a non-digit middle")
	}
}

func itoa9(n int) string {
	b := make([]byte, 9)
	for i := 8; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}
