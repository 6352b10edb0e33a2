package faultsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// decodeJSON decodes data into v, a pointer to a struct, with the rules
// fault's policies follow: durations are strings in time.ParseDuration form
// (or the number 0), unknown fields are errors naming the JSON path
// ("phases[1].latncy: unknown field (did you mean "latency"?)"), and every
// problem is reported. The policy structs of package fault are walked the
// same way, so a problem inside the embedded policy names its full path
// ("policy.retry.maxAtempts: ...").
func decodeJSON(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decodeJSON needs a non-nil pointer to a struct, got %T", v)
	}
	return decodeStrict(data, rv.Elem(), "")
}

// jsonError is a decoding problem at a JSON path.
type jsonError struct{ path, msg string }

func (e *jsonError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	faultPkg        = reflect.TypeFor[fault.PolicyConfig]().PkgPath()
)

// jsonFields maps a struct's JSON names to field indexes, skipping "-".
func jsonFields(t reflect.Type) (names []string, index map[string]int) {
	index = make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

func decodeStrict(data []byte, rv reflect.Value, path string) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return &jsonError{path: path, msg: "want a JSON object: " + err.Error()}
	}
	names, index := jsonFields(rv.Type())
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, key := range keys {
		fieldPath := key
		if path != "" {
			fieldPath = path + "." + key
		}
		i, ok := index[key]
		if !ok {
			errs = append(errs, &jsonError{path: fieldPath, msg: "unknown field" + suggest(key, names)})
			continue
		}
		if err := decodeValue(raw[key], rv.Field(i), fieldPath); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ownDecoder reports whether values of t decode themselves. fault's policy
// types do, but they are walked here to keep the full JSON path in errors.
func ownDecoder(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t.PkgPath() == faultPkg {
		return false
	}
	return reflect.PointerTo(t).Implements(unmarshalerType)
}

func decodeValue(msg json.RawMessage, f reflect.Value, path string) error {
	switch {
	case ownDecoder(f.Type()):
		// handled by json.Unmarshal below
	case f.Type() == durationType:
		d, err := parseDuration(msg)
		if err != nil {
			return &jsonError{path: path, msg: err.Error()}
		}
		f.SetInt(int64(d))
		return nil
	case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
		if bytes.Equal(bytes.TrimSpace(msg), []byte("null")) {
			f.SetZero()
			return nil
		}
		nv := reflect.New(f.Type().Elem())
		if err := decodeStrict(msg, nv.Elem(), path); err != nil {
			return err
		}
		f.Set(nv)
		return nil
	case f.Kind() == reflect.Struct && f.Type() != timeType:
		return decodeStrict(msg, f, path)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		var items []json.RawMessage
		if err := json.Unmarshal(msg, &items); err != nil {
			return &jsonError{path: path, msg: "want a JSON array: " + err.Error()}
		}
		s := reflect.MakeSlice(f.Type(), len(items), len(items))
		var errs []error
		for j, item := range items {
			if err := decodeStrict(item, s.Index(j), fmt.Sprintf("%s[%d]", path, j)); err != nil {
				errs = append(errs, err)
			}
		}
		f.Set(s)
		return errors.Join(errs...)
	}
	if err := json.Unmarshal(msg, f.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &jsonError{path: path, msg: "want " + te.Type.String() + ", got JSON " + te.Value}
		}
		return &jsonError{path: path, msg: err.Error()}
	}
	return nil
}

func parseDuration(msg json.RawMessage) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(msg, &s); err != nil {
		var n json.Number
		if json.Unmarshal(msg, &n) == nil && (n == "0" || n == "0.0") {
			return 0, nil
		}
		return 0, fmt.Errorf(`want a duration string such as "100ms" or "5s", got %s`, msg)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf(`want a duration such as "100ms" or "5s", got %q`, s)
	}
	return d, nil
}

// suggest names the closest known field when the unknown one differs only in
// case or by a small edit.
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
