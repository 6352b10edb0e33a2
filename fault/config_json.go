package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Policies are read from and written to JSON with human durations:
//
//	{"name": "payment-service",
//	 "retry": {"maxAttempts": 3, "initialInterval": "100ms", "maxInterval": "10s", "multiplier": 2},
//	 "timeout": {"timeout": "5s", "max": "30s"}}
//
// Durations are strings in time.ParseDuration form (or the number 0); a bare
// number such as 5 is refused, since nobody means five nanoseconds. Field
// names are case-sensitive and unknown fields are errors naming the field.

// ParsePolicy decodes one policy from JSON and validates it.
func ParsePolicy(data []byte) (PolicyConfig, error) {
	var p PolicyConfig
	if err := json.Unmarshal(data, &p); err != nil {
		return PolicyConfig{}, err
	}
	if err := p.Validate(); err != nil {
		return PolicyConfig{}, err
	}
	return p, nil
}

// ParsePolicies decodes a JSON array of policies, validates each, and rejects
// duplicate names. All problems are reported together.
func ParsePolicies(data []byte) ([]PolicyConfig, error) {
	var ps []PolicyConfig
	if err := json.Unmarshal(data, &ps); err != nil {
		return nil, err
	}
	var errs []error
	seen := make(map[string]int, len(ps))
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("policies[%d]: %w", i, err))
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			errs = append(errs, fmt.Errorf("policies[%d]: %w", i,
				NewInvalidPolicyError(p.Name, "Name", p.Name, fmt.Sprintf("must be unique (also policies[%d])", j))))
		}
		seen[p.Name] = i
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

// UnmarshalJSON decodes a policy strictly (see ParsePolicy). It does not
// validate values; ParsePolicy does.
func (p *PolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, p, "", policyPrefix)
}

// MarshalJSON encodes the policy with durations as strings, leaving out zero
// fields and nil sections.
func (p PolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(p)) }

// UnmarshalJSON decodes the section strictly.
func (c *CircuitBreakerPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c CircuitBreakerPolicyConfig) MarshalJSON() ([]byte, error) {
	return encodeStruct(reflect.ValueOf(c))
}

// UnmarshalJSON decodes the section strictly.
func (c *RetryPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c RetryPolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

// UnmarshalJSON decodes the section strictly.
func (c *TimeoutPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c TimeoutPolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

// UnmarshalJSON decodes the section strictly.
func (c *RateLimitPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c RateLimitPolicyConfig) MarshalJSON() ([]byte, error) {
	return encodeStruct(reflect.ValueOf(c))
}

// UnmarshalJSON decodes the section strictly.
func (c *BulkheadPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c BulkheadPolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

// UnmarshalJSON decodes the section strictly.
func (c *BudgetPolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c BudgetPolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

// UnmarshalJSON decodes the section strictly.
func (c *HedgePolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c HedgePolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

// UnmarshalJSON decodes the section strictly.
func (c *ThrottlePolicyConfig) UnmarshalJSON(data []byte) error {
	return decodeStrict(data, c, "", policyPrefix)
}

// MarshalJSON encodes the section with durations as strings.
func (c ThrottlePolicyConfig) MarshalJSON() ([]byte, error) { return encodeStruct(reflect.ValueOf(c)) }

var durationType = reflect.TypeFor[time.Duration]()

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

func decodeStrict(data []byte, v any, path, prefix string) error {
	rv := reflect.ValueOf(v).Elem()
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return &jsonError{prefix: prefix, path: path, msg: "want a JSON object: " + err.Error()}
	}
	names, index := jsonFields(rv.Type())
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, key := range keys {
		msg := raw[key]
		fieldPath := key
		if path != "" {
			fieldPath = path + "." + key
		}
		i, ok := index[key]
		if !ok {
			errs = append(errs, &jsonError{prefix: prefix, path: fieldPath, msg: "unknown field" + suggest(key, names)})
			continue
		}
		if err := decodeValue(msg, rv.Field(i), fieldPath, prefix); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// strictTypes are the types decodeStrict walks itself (to keep JSON paths in
// errors) even though they implement json.Unmarshaler.
var strictTypes = map[reflect.Type]bool{
	reflect.TypeFor[PolicyConfig]():               true,
	reflect.TypeFor[CircuitBreakerPolicyConfig](): true,
	reflect.TypeFor[RetryPolicyConfig]():          true,
	reflect.TypeFor[TimeoutPolicyConfig]():        true,
	reflect.TypeFor[RateLimitPolicyConfig]():      true,
	reflect.TypeFor[BulkheadPolicyConfig]():       true,
}

// ownDecoder reports whether values of t decode themselves.
func ownDecoder(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return !strictTypes[t] && reflect.PointerTo(t).Implements(unmarshalerType)
}

func decodeValue(msg json.RawMessage, f reflect.Value, path, prefix string) error {
	switch {
	case ownDecoder(f.Type()):
		// handled by json.Unmarshal below
	case f.Type() == durationType:
		d, err := parseDuration(msg)
		if err != nil {
			return &jsonError{prefix: prefix, path: path, msg: err.Error()}
		}
		f.SetInt(int64(d))
		return nil
	case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
		if bytes.Equal(bytes.TrimSpace(msg), []byte("null")) {
			f.SetZero()
			return nil
		}
		nv := reflect.New(f.Type().Elem())
		if err := decodeStrict(msg, nv.Interface(), path, prefix); err != nil {
			return err
		}
		f.Set(nv)
		return nil
	case f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]():
		return decodeStrict(msg, f.Addr().Interface(), path, prefix)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		var items []json.RawMessage
		if err := json.Unmarshal(msg, &items); err != nil {
			return &jsonError{prefix: prefix, path: path, msg: "want a JSON array: " + err.Error()}
		}
		s := reflect.MakeSlice(f.Type(), len(items), len(items))
		var errs []error
		for j, item := range items {
			if err := decodeStrict(item, s.Index(j).Addr().Interface(), fmt.Sprintf("%s[%d]", path, j), prefix); err != nil {
				errs = append(errs, err)
			}
		}
		f.Set(s)
		return errors.Join(errs...)
	}
	if err := json.Unmarshal(msg, f.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &jsonError{prefix: prefix, path: path, msg: "want " + te.Type.String() + ", got JSON " + te.Value}
		}
		return &jsonError{prefix: prefix, path: path, msg: err.Error()}
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

// policyPrefix starts the decoding errors of policies.
const policyPrefix = "fault: policy JSON: "

// jsonError is a decoding problem at a JSON path.
type jsonError struct{ prefix, path, msg string }

func (e *jsonError) Error() string {
	if e.path == "" {
		return e.prefix + e.msg
	}
	return e.prefix + e.path + ": " + e.msg
}

// encodeStruct writes a struct as a JSON object in field order, durations as
// strings, leaving out zero values and "-" fields.
func encodeStruct(rv reflect.Value) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	t := rv.Type()
	first := true
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := rv.Field(i)
		if f.IsZero() && name != "name" {
			continue
		}
		var (
			b   []byte
			err error
		)
		switch {
		case f.Type() == durationType:
			b, err = json.Marshal(time.Duration(f.Int()).String())
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
			b, err = encodeStruct(f.Elem())
		default:
			b, err = json.Marshal(f.Interface())
		}
		if err != nil {
			return nil, fmt.Errorf("fault: encoding %s: %w", name, err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		k, err := json.Marshal(name)
		if err != nil {
			return nil, fmt.Errorf("fault: encoding field name %q: %w", name, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
