package events

import (
	"encoding/json"
	"fmt"
)

// An upcaster rewrites a payload from schema version N to N+1. Events in the
// log are never rewritten: an old event is upcast every time it is read, so
// the projections only ever see the current shape.
type upcaster func(json.RawMessage) (json.RawMessage, error)

// upcasters holds, per type, the function that lifts version N to N+1 at
// index N-1.
var upcasters = map[Type][]upcaster{
	"missing.reported": {missingReportedV1toV2},
}

// upcast lifts raw from version (0 meaning 1) to spec.Version.
func upcast(spec *Spec, version int, raw json.RawMessage) (json.RawMessage, error) {
	if version == 0 {
		version = 1
	}
	if version >= spec.Version || version < 1 {
		return raw, nil // too new or negative: Validate reports it
	}
	chain := upcasters[spec.Type]
	for v := version; v < spec.Version; v++ {
		if v-1 >= len(chain) {
			return nil, &FieldError{Field: "schema_version", Problem: fmt.Sprintf("no upcaster from version %d of %s", v, spec.Type)}
		}
		var err error
		if raw, err = chain[v-1](raw); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// missingReportedV1 is missing.reported as first published: police's
// absent/missing distinction was a boolean, which could not grow to carry the
// categories forces now use.
type missingReportedV1 struct {
	EpisodeRef      string `json:"episode_ref"`
	Absent          bool   `json:"absent"`
	RiskLevel       string `json:"risk_level,omitempty"`
	LookedAfterCode string `json:"looked_after_code,omitempty"`
}

func missingReportedV1toV2(raw json.RawMessage) (json.RawMessage, error) {
	var v1 missingReportedV1
	if err := strictUnmarshal(raw, &v1); err != nil {
		return nil, jsonProblem("payload", err)
	}
	v2 := MissingReported{EpisodeRef: v1.EpisodeRef, Category: "missing", RiskLevel: v1.RiskLevel, LookedAfterCode: v1.LookedAfterCode}
	if v1.Absent {
		v2.Category = "absent"
	}
	return json.Marshal(v2)
}
