package events

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// Field is one payload field as a practitioner reads it: the wire name, the
// value as text, and for coded fields what the code means.
type Field struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Meaning string `json:"meaning,omitempty"`
}

// Fields lists the set fields of a payload in struct order, with coded
// values explained ("category": "NEG", "Neglect"). Lists become "; "
// separated text.
func Fields(p Payload) []Field {
	if p == nil {
		return nil
	}
	v := reflect.ValueOf(p)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	t := v.Type()
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		fv := v.Field(i)
		if fv.IsZero() {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		list := codeListNamed(t.Field(i).Tag.Get("codes"))
		values := fieldText(fv)
		f := Field{Name: name, Value: strings.Join(values, "; ")}
		if list != nil {
			meanings := make([]string, 0, len(values))
			for _, s := range values {
				if m := list.Meaning(s); m != "" {
					meanings = append(meanings, m)
				}
			}
			f.Meaning = strings.Join(meanings, "; ")
		}
		out = append(out, f)
	}
	return out
}

func fieldText(v reflect.Value) []string {
	switch x := v.Interface().(type) {
	case json.RawMessage:
		return []string{string(x)}
	case Identifier:
		return []string{x.String()}
	}
	switch v.Kind() {
	case reflect.Pointer:
		return fieldText(v.Elem())
	case reflect.Slice:
		out := make([]string, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			out = append(out, fieldText(v.Index(i))...)
		}
		return out
	case reflect.String:
		return []string{v.String()}
	case reflect.Int:
		return []string{strconv.FormatInt(v.Int(), 10)}
	case reflect.Float64:
		return []string{strconv.FormatFloat(v.Float(), 'f', -1, 64)}
	case reflect.Bool:
		return []string{strconv.FormatBool(v.Bool())}
	}
	return []string{v.String()}
}
