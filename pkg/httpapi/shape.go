package httpapi

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A shape is what the JSON walk knows of the Go type a value decodes into: which
// JSON kinds it takes, its fields or elements, an integer's width.

// JSON value kinds, as a target type accepts them.
type jsonKind uint8

const (
	kindObject jsonKind = 1 << iota
	kindArray
	kindString
	kindNumber
	kindBool
	kindAny = kindObject | kindArray | kindString | kindNumber | kindBool
)

// Go target kinds the walk knows.
const (
	kindFree    = iota // anything: interface, json.RawMessage, or a type the walk does not model
	kindStruct         // a struct: its fields are known by their exact JSON names
	kindMap            // map[string]T
	kindList           // slice or array
	kindStr            // string
	kindInt            // signed integer
	kindUint           // unsigned integer
	kindFloat          // float32, float64
	kindBoolean        // bool
	kindCustom         // a json.Unmarshaler or encoding.TextUnmarshaler: it checks itself
)

// shape is what the walk knows of a target type.
type shape struct {
	t      reflect.Type
	kind   int
	accept jsonKind
	elem   reflect.Type // map or list element
	bits   int          // integer width
	st     *structInfo
	text   bool // a TextUnmarshaler: it takes a string, unescaped
}

func (sh shape) accepts(k jsonKind) bool { return sh.accept&k != 0 }

var shapeCache sync.Map // reflect.Type → shape

func shapeOf(t reflect.Type) shape {
	if t == nil {
		return shape{kind: kindFree, accept: kindAny}
	}
	if sh, ok := shapeCache.Load(t); ok {
		return sh.(shape)
	}
	sh := newShape(t)
	shapeCache.Store(t, sh)
	return sh
}

func newShape(t reflect.Type) shape {
	if t == numberType {
		return shape{t: t, kind: kindFloat, accept: kindNumber} // the literal, DynamoDB-checked
	}
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(jsonUnmarshaler) || t.Implements(jsonUnmarshaler):
		return shape{t: t, kind: kindCustom, accept: kindAny}
	case pt.Implements(textUnmarshaler) || t.Implements(textUnmarshaler):
		return shape{t: t, kind: kindCustom, accept: kindString, text: true}
	}
	if sh, ok := containerShape(t); ok {
		return sh
	}
	if sh, ok := scalarShape(t); ok {
		return sh
	}
	// Channels, functions, non-string map keys, []byte...: encoding/json decides.
	return shape{kind: kindFree, accept: kindAny}
}

// containerShape is the shape of an empty interface, a struct, a map with string
// keys, or a list; false for any other type.
func containerShape(t reflect.Type) (shape, bool) {
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return shape{kind: kindFree, accept: kindAny}, true
		}
	case reflect.Struct:
		return shape{t: t, kind: kindStruct, accept: kindObject, st: structFields(t)}, true
	case reflect.Map:
		if t.Key().Kind() == reflect.String && !reflect.PointerTo(t.Key()).Implements(textUnmarshaler) {
			return shape{t: t, kind: kindMap, accept: kindObject, elem: t.Elem()}, true
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 { // []byte is base64 text for encoding/json
			return shape{t: t, kind: kindList, accept: kindArray, elem: t.Elem()}, true
		}
	case reflect.Array:
		return shape{t: t, kind: kindList, accept: kindArray, elem: t.Elem()}, true
	}
	return shape{}, false
}

// scalarShape is the shape of a string, bool, integer or float type; false for any
// other type.
func scalarShape(t reflect.Type) (shape, bool) {
	switch t.Kind() {
	case reflect.String:
		return shape{t: t, kind: kindStr, accept: kindString}, true
	case reflect.Bool:
		return shape{t: t, kind: kindBoolean, accept: kindBool}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return shape{t: t, kind: kindInt, accept: kindNumber, bits: t.Bits()}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return shape{t: t, kind: kindUint, accept: kindNumber, bits: t.Bits()}, true
	case reflect.Float32, reflect.Float64:
		return shape{t: t, kind: kindFloat, accept: kindNumber}, true
	}
	return shape{}, false
}

func (sh shape) intRange() (lo, hi string) {
	if sh.kind == kindUint {
		return "0", strconv.FormatUint(math.MaxUint64>>(64-sh.bits), 10)
	}
	return strconv.FormatInt(math.MinInt64>>(64-sh.bits), 10), strconv.FormatInt(math.MaxInt64>>(64-sh.bits), 10)
}

// mismatch is the error for a value of the wrong JSON type at the current field.
func (sh shape) mismatch(w *walker) *Error {
	var want string
	switch {
	case sh.t == timeType:
		want = "an RFC 3339 date-time string"
	case sh.kind == kindStruct || sh.kind == kindMap:
		want = "an object"
	case sh.kind == kindList:
		want = "an array"
	case sh.kind == kindStr || sh.text:
		want = "a string"
	case sh.kind == kindInt || sh.kind == kindUint:
		want = "an integer"
	case sh.kind == kindFloat:
		want = "a number"
	case sh.kind == kindBoolean:
		want = "true or false"
	}
	switch {
	case w.field() == "":
		return w.fail("malformed_json", "The body is not a valid JSON object.")
	case want == "":
		return w.fail("invalid_type", "Field %s has an invalid value.", w.field())
	}
	return w.fail("invalid_type", "Field %s must be %s.", w.field(), want)
}

// field returns the target type of key inside an object of this shape, or the
// unknown_field error.
func (sh shape) field(w *walker, key string) (reflect.Type, *Error) {
	switch sh.kind {
	case kindMap:
		return sh.elem, nil
	case kindStruct:
		if t, ok := sh.st.fields[key]; ok {
			return t, nil
		}
		if sh.st.loose {
			return nil, nil // encoding/json knows this struct's embedded fields
		}
		if name := sh.st.folded(key); name != "" {
			return nil, w.fail("unknown_field", "Unknown field %s (names are case-sensitive: %s).", w.field(), name)
		}
		return nil, w.fail("unknown_field", "Unknown field %s.", w.field())
	}
	return nil, nil
}

// check runs a custom type's own decoding on the value just walked.
func (sh shape) check(w *walker, raw []byte, text string) *Error {
	if sh.kind != kindCustom {
		return nil
	}
	v := reflect.New(sh.t).Interface()
	var err error
	if sh.text {
		err = v.(encoding.TextUnmarshaler).UnmarshalText([]byte(text))
	} else if u, ok := v.(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(raw)
	}
	if err != nil {
		return sh.mismatch(w)
	}
	return nil
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	numberType = reflect.TypeFor[json.Number]()
)

// structInfo is a struct's fields by exact JSON name.
type structInfo struct {
	fields map[string]reflect.Type // nil type: decoded by encoding/json alone (",string")
	loose  bool                    // has embedded fields, whose promotion encoding/json resolves
}

// folded returns the first field name, in sorted order, that equals key but for case.
func (si *structInfo) folded(key string) string {
	var match []string
	for name := range si.fields {
		if strings.EqualFold(name, key) {
			match = append(match, name)
		}
	}
	if len(match) == 0 {
		return ""
	}
	slices.Sort(match)
	return match[0]
}

var structCache sync.Map // reflect.Type → *structInfo

func structFields(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]reflect.Type{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			si.loose = true
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for _, o := range strings.Split(opts, ",") {
			if o == "string" {
				ft = nil
			}
		}
		si.fields[name] = ft
	}
	structCache.Store(t, si)
	return si
}
