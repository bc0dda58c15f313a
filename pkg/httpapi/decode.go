package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// maxDepth bounds the nesting of a JSON body (objects and arrays). It is far above
// what any route needs, and keeps the walk's recursion small whatever the body.
const maxDepth = 64

// DecodeJSON decodes the request body into v, strictly (see Decode). The request's
// Content-Type must be application/json or application/*+json (parameters allowed;
// a charset, if given, must be utf-8), else 415 unsupported_media_type, whatever the
// body. A request without Content-Type (or with an empty one) is accepted only with
// an empty body, which decodes as nothing when allowEmpty (routes whose body is
// optional, such as revoke) and is a 400 malformed_json otherwise; with a body it
// is a 415. A body over MaxBody is a 413.
func DecodeJSON(req *events.APIGatewayV2HTTPRequest, v any, allowEmpty bool) error {
	ct, _ := header(req.Headers, "content-type")
	hasCT := strings.TrimSpace(ct) != "" // an empty header says no more than none
	if hasCT {
		if err := checkJSONType(ct); err != nil {
			return err
		}
	}
	raw, err := Body(req)
	if err != nil {
		return err
	}
	if len(bytes.TrimLeft(raw, " \t\r\n")) == 0 {
		if allowEmpty {
			return nil
		}
		return Errorf(http.StatusBadRequest, "malformed_json", "A JSON object body is required.")
	}
	if !hasCT {
		return unsupportedType("A body needs Content-Type: application/json.")
	}
	return Decode(raw, v)
}

// Decode decodes raw, which must be one JSON object, into v (a pointer), strictly.
// It walks the document once, in order, and answers the first problem as a 400
// naming its field (a path such as metadata.a.b or scopes[2]):
//
//   - malformed_json: not JSON, not an object, or data after the object;
//   - invalid_utf8: a byte sequence that is not UTF-8, or an escaped lone surrogate;
//   - duplicate_field: an object key given twice (after unescaping), at any depth;
//   - nesting_too_deep: objects and arrays nested deeper than 64;
//   - unknown_field: a key that is not one of the target struct's JSON names,
//     compared exactly (encoding/json alone would accept "Name" for "name");
//   - invalid_type: a value of the wrong JSON type for its Go target, a non-integer
//     for an integer, or a value its type's UnmarshalJSON/UnmarshalText refuses;
//   - number_out_of_range: an integer outside its Go type's range (checked before any
//     conversion), or any other number DynamoDB cannot store: more than 38
//     significant digits, a magnitude outside 1E-130 to 9.99…E+125 (zero is fine),
//     or an exponent beyond ±999999999 (DynamoDB cannot parse it, even for zero).
//
// Numbers that land in an interface (free-form objects such as metadata) are
// decoded as json.Number, so no digit is lost.
func Decode(raw []byte, v any) error {
	w := walker{data: raw, root: true}
	w.ws()
	if err := w.value(targetType(v), 1); err != nil {
		return err
	}
	w.ws()
	if w.i < len(w.data) {
		if err := w.badByte(); err.Code == "invalid_utf8" {
			return err
		}
		return Errorf(http.StatusBadRequest, "malformed_json", "The body has data after its JSON object (at byte %d).", w.i)
	}
	return fill(raw, v, "")
}

// DecodeField decodes raw, one JSON value of any kind already cut from a body, into
// v with Decode's checks; errors name their field under name (e.g. "metadata").
func DecodeField(name string, raw []byte, v any) error {
	w := walker{data: raw, base: name}
	w.ws()
	if err := w.value(targetType(v), 1); err != nil {
		return err
	}
	w.ws()
	if w.i < len(w.data) {
		if err := w.badByte(); err.Code == "invalid_utf8" {
			return err
		}
		return w.fail("malformed_json", "Field %s is not one JSON value.", w.field())
	}
	return fill(raw, v, name)
}

// fill decodes an already-walked document into v. The walk has refused everything
// that encoding/json would refuse or silently change, so an error here means a
// target type the walk does not model; it is still a 400, never a 500.
func fill(raw []byte, v any, name string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, name)
	}
	return nil
}

func jsonError(err error, name string) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := joinPath(name, te.Field)
		if field == "" {
			return Errorf(http.StatusBadRequest, "malformed_json", "The body must be a JSON object.")
		}
		e := Errorf(http.StatusBadRequest, "invalid_type", "Field %s has the wrong type.", field)
		e.Field = field
		return e
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Errorf(http.StatusBadRequest, "unknown_field", "Unknown field %s.", msg)
	}
	return Errorf(http.StatusBadRequest, "malformed_json", "The body is not valid JSON.")
}

func joinPath(base, field string) string {
	switch {
	case base == "":
		return field
	case field == "":
		return base
	}
	return base + "." + field
}

func unsupportedType(detail string) *Error {
	return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "%s", detail)
}

// checkJSONType accepts application/json and application/*+json (RFC 6839), with
// parameters; JSON is UTF-8 (RFC 8259 §8.1), so a charset parameter must say so.
func checkJSONType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupportedType("The Content-Type is malformed; send application/json.")
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	if !ok || sub != "json" && (!strings.HasSuffix(sub, "+json") || len(sub) == len("+json")) {
		return unsupportedType("This route takes application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedType("JSON bodies are UTF-8; charset must be utf-8.")
	}
	return nil
}

// header returns the value of a header, whatever its case. API Gateway lowercases
// names; among several spellings (a hand-built event) the greatest name in byte
// order wins (the lowercase one), so the answer never depends on map order.
func header(h map[string]string, name string) (value string, ok bool) {
	var got string
	for k, v := range h {
		if strings.EqualFold(k, name) && (!ok || k > got) {
			value, got, ok = v, k, true
		}
	}
	return value, ok
}

// targetType is the type a pointer v points to; nil (anything goes, as for `any`)
// when v is not a non-nil pointer.
func targetType(v any) reflect.Type {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	return t.Elem()
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessage      = reflect.TypeFor[json.RawMessage]()
)
