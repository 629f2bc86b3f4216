package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// decodeThorough decodes data into the value v points at, field by field, and
// records every problem with its full field path ("subjects[0].date_of_birth")
// instead of stopping at the first as encoding/json does. It is the slow path:
// Decode runs it only after the fast strict decoder has failed, so a valid
// event never pays for it, and an agency fixing a rejected event sees all of
// what is wrong at once.
//
// Fields are matched to struct fields by their json tag (exactly, as the wire
// format is snake_case), unknown fields are problems, and a value of the wrong
// JSON type leaves the target's zero value in place.
func decodeThorough(p *ProblemSet, path string, data []byte, v reflect.Value) {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return // encoding/json leaves the target as it was; so do we
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		decodeThorough(p, path, data, v.Elem())
	case reflect.Struct:
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil {
			p.Add(path, "must be a JSON object, not %s", jsonValueKind(data))
			return
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys) // problems in a stable order
		for _, k := range keys {
			f, ok := fieldByTag(v, k)
			if !ok {
				p.Add(joinPath(path, k), "unknown field")
				continue
			}
			decodeThorough(p, joinPath(path, k), fields[k], f)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.Type() == reflect.TypeFor[json.RawMessage]() {
			decodeLeaf(p, path, data, v)
			return
		}
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			p.Add(path, "must be a JSON array, not %s", jsonValueKind(data))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			decodeThorough(p, fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))
		}
		v.Set(out)
	case reflect.Map:
		var items map[string]json.RawMessage
		if json.Unmarshal(data, &items) != nil || v.Type().Key().Kind() != reflect.String {
			decodeLeaf(p, path, data, v)
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), len(items))
		for k, item := range items {
			elem := reflect.New(v.Type().Elem()).Elem()
			decodeThorough(p, joinPath(path, k), item, elem)
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), elem)
		}
		v.Set(out)
	default:
		decodeLeaf(p, path, data, v)
	}
}

// decodeLeaf decodes a scalar (or anything with its own UnmarshalJSON) with
// encoding/json and names the JSON type it wanted when it fails.
func decodeLeaf(p *ProblemSet, path string, data []byte, v reflect.Value) {
	target := reflect.New(v.Type())
	if err := json.Unmarshal(data, target.Interface()); err != nil {
		p.Add(path, "must be a JSON %s, not %s", jsonKind(v.Kind().String()), jsonValueKind(data))
		return
	}
	v.Set(target.Elem())
}

// fieldByTag finds the struct field whose json tag name is name.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = sf.Name
		}
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// jsonValueKind names the JSON type of an encoded value, for "must be a JSON
// string, not number".
func jsonValueKind(data []byte) string {
	if len(data) == 0 {
		return "nothing"
	}
	switch data[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
