package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// walker checks one JSON document in a single pass, in document order, against the
// Go type it will be decoded into. It never converts a number: it reads the literal.
type walker struct {
	data []byte
	i    int
	base string     // the field the document is, for DecodeField; "" for a body
	root bool       // the document must be an object (a body)
	path []pathElem // where the walk is, for naming fields in errors
}

// pathElem is one step of a field path: an object key or an array index.
type pathElem struct {
	key   string
	index int // -1 for a key
}

// maxKeyInPath bounds how much of one key an error message repeats.
const maxKeyInPath = 64

// field renders the current path: metadata.a.b, scopes[2], metadata["a b"].
func (w *walker) field() string {
	var b strings.Builder
	b.WriteString(w.base)
	for _, p := range w.path {
		if p.index >= 0 {
			fmt.Fprintf(&b, "[%d]", p.index)
			continue
		}
		k := p.key
		if len(k) > maxKeyInPath {
			cut := maxKeyInPath
			for cut > 0 && !utf8.RuneStart(k[cut]) {
				cut--
			}
			k = k[:cut] + "…"
		}
		if simpleKey(k) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
			continue
		}
		q, _ := json.Marshal(k)
		b.WriteByte('[')
		b.Write(q)
		b.WriteByte(']')
	}
	return b.String()
}

func simpleKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// fail returns a 400 naming the current field.
func (w *walker) fail(code, format string, args ...any) *Error {
	e := Errorf(http.StatusBadRequest, code, format, args...)
	e.Field = w.field()
	return e
}

// where is " in <field>" for a syntax message, or "" at the top.
func (w *walker) where() string {
	if f := w.field(); f != "" {
		return " in " + f
	}
	return ""
}

// badByte explains the byte at w.i, which the grammar does not allow there.
func (w *walker) badByte() *Error {
	if w.i >= len(w.data) {
		return w.fail("malformed_json", "The body is not valid JSON: it ends early%s.", w.where())
	}
	if c := w.data[w.i]; c >= utf8.RuneSelf {
		if r, size := utf8.DecodeRune(w.data[w.i:]); r == utf8.RuneError && size <= 1 {
			return w.fail("invalid_utf8", "The body is not valid UTF-8 (at byte %d%s).", w.i, w.where())
		}
	}
	return w.fail("malformed_json", "The body is not valid JSON (at byte %d%s).", w.i, w.where())
}

func (w *walker) ws() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

// value walks one value whose Go target is t (nil: anything, as for `any`).
func (w *walker) value(t reflect.Type, depth int) *Error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage {
		t = nil // the handler decodes it later, with DecodeField
	}
	if w.i >= len(w.data) {
		return w.badByte()
	}
	sh := shapeOf(t)
	c := w.data[w.i]
	if w.root {
		w.root = false
		if c != '{' {
			if err := w.badByte(); err.Code == "invalid_utf8" {
				return err
			}
			return w.fail("malformed_json", "The body must be a JSON object.")
		}
	}
	if c == 'n' {
		return w.literal("null") // null fits every target: it leaves the value unset
	}
	kind, ok := kindAt(c)
	if !ok {
		return w.badByte()
	}
	if !sh.accepts(kind) {
		return sh.mismatch(w)
	}
	start := w.i
	text, err := w.walkKind(kind, sh, depth)
	if err != nil {
		return err
	}
	return sh.check(w, w.data[start:w.i], text)
}

// kindAt is the kind of the JSON value whose first byte is c; false when no value but
// null starts with c.
func kindAt(c byte) (jsonKind, bool) {
	switch {
	case c == '{':
		return kindObject, true
	case c == '[':
		return kindArray, true
	case c == '"':
		return kindString, true
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber, true
	case c == 't' || c == 'f':
		return kindBool, true
	}
	return 0, false
}

// walkKind walks the value of kind at w.i against sh; for a string, it returns its
// text when sh needs it.
func (w *walker) walkKind(kind jsonKind, sh shape, depth int) (string, *Error) {
	switch kind {
	case kindObject:
		return "", w.object(sh, depth)
	case kindArray:
		return "", w.array(sh, depth)
	case kindString:
		return w.str(sh.text)
	case kindNumber:
		return "", w.number(sh)
	}
	if w.data[w.i] == 't' {
		return "", w.literal("true")
	}
	return "", w.literal("false")
}

func (w *walker) literal(lit string) *Error {
	for j := 0; j < len(lit); j++ {
		if w.i >= len(w.data) || w.data[w.i] != lit[j] {
			return w.badByte()
		}
		w.i++
	}
	return nil
}

func (w *walker) object(sh shape, depth int) *Error {
	if depth > maxDepth {
		return w.fail("nesting_too_deep", "The body nests objects and arrays deeper than %d%s.", maxDepth, w.where())
	}
	w.i++ // {
	w.ws()
	if w.i < len(w.data) && w.data[w.i] == '}' {
		w.i++
		return nil
	}
	seen := map[string]bool{}
	for {
		if err := w.member(sh, seen, depth); err != nil {
			return err
		}
		if end, err := w.next('}'); end || err != nil {
			return err
		}
	}
}

// member walks one "key": value of an object of shape sh; seen holds the keys before it.
func (w *walker) member(sh shape, seen map[string]bool, depth int) *Error {
	w.ws()
	if w.i >= len(w.data) || w.data[w.i] != '"' {
		return w.badByte()
	}
	key, err := w.str(true)
	if err != nil {
		return err
	}
	w.path = append(w.path, pathElem{key: key, index: -1})
	if seen[key] {
		return w.fail("duplicate_field", "Field %s is given twice.", w.field())
	}
	seen[key] = true
	child, err := sh.field(w, key)
	if err != nil {
		return err
	}
	w.ws()
	if w.i >= len(w.data) || w.data[w.i] != ':' {
		return w.badByte()
	}
	w.i++
	w.ws()
	if err := w.value(child, depth+1); err != nil {
		return err
	}
	w.path = w.path[:len(w.path)-1]
	return nil
}

// next reads what follows a member or element: a comma (more to come) or the closing
// byte (the end), and refuses anything else.
func (w *walker) next(closer byte) (end bool, err *Error) {
	w.ws()
	switch {
	case w.i >= len(w.data):
		return false, w.badByte()
	case w.data[w.i] == ',':
		w.i++
		return false, nil
	case w.data[w.i] == closer:
		w.i++
		return true, nil
	}
	return false, w.badByte()
}

func (w *walker) array(sh shape, depth int) *Error {
	if depth > maxDepth {
		return w.fail("nesting_too_deep", "The body nests objects and arrays deeper than %d%s.", maxDepth, w.where())
	}
	w.i++ // [
	w.ws()
	if w.i < len(w.data) && w.data[w.i] == ']' {
		w.i++
		return nil
	}
	for n := 0; ; n++ {
		w.ws()
		w.path = append(w.path, pathElem{index: n})
		if err := w.value(sh.elem, depth+1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		if end, err := w.next(']'); end || err != nil {
			return err
		}
	}
}

// str walks a string at w.i (its opening quote) and returns its unescaped value
// when want. Every byte must be UTF-8 and every \u escape a whole code point: Go's
// decoder would silently turn either into U+FFFD.
func (w *walker) str(want bool) (string, *Error) {
	w.i++ // "
	var buf []byte
	for {
		if w.i >= len(w.data) {
			return "", w.badByte()
		}
		c := w.data[w.i]
		switch {
		case c == '"':
			w.i++
			return string(buf), nil
		case c == '\\':
			r, err := w.escape()
			if err != nil {
				return "", err
			}
			if want {
				buf = utf8.AppendRune(buf, r)
			}
		case c < 0x20:
			return "", w.badByte()
		case c < utf8.RuneSelf:
			if want {
				buf = append(buf, c)
			}
			w.i++
		default:
			r, size := utf8.DecodeRune(w.data[w.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", w.badByte()
			}
			if want {
				buf = append(buf, w.data[w.i:w.i+size]...)
			}
			w.i += size
		}
	}
}

// escape reads one escape sequence at w.i (its backslash).
func (w *walker) escape() (rune, *Error) {
	at := w.i
	w.i++
	if w.i >= len(w.data) {
		return 0, w.badByte()
	}
	c := w.data[w.i]
	w.i++
	if r, ok := simpleEscapes[c]; ok {
		return r, nil
	}
	if c == 'u' {
		return w.unicodeEscape(at)
	}
	w.i--
	return 0, w.badByte()
}

// simpleEscapes are the one-letter escapes of RFC 8259 §7.
var simpleEscapes = map[byte]rune{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// unicodeEscape reads the hex digits of a \u escape that began at at, and the low
// half that must follow a high surrogate.
func (w *walker) unicodeEscape(at int) (rune, *Error) {
	r, ok := w.hex4()
	if !ok {
		return 0, w.badByte()
	}
	if !utf16.IsSurrogate(r) {
		return r, nil
	}
	lo := rune(-1)
	if r < 0xdc00 && w.i+1 < len(w.data) && w.data[w.i] == '\\' && w.data[w.i+1] == 'u' {
		w.i += 2
		if lo, ok = w.hex4(); !ok {
			return 0, w.badByte()
		}
	}
	if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
		w.i = at
		return 0, w.fail("invalid_utf8", "The body has an escaped lone surrogate, which is not Unicode (at byte %d%s).", at, w.where())
	}
	return r, nil
}

func (w *walker) hex4() (rune, bool) {
	if w.i+4 > len(w.data) {
		w.i = len(w.data)
		return 0, false
	}
	var r rune
	for _, c := range w.data[w.i : w.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
		w.i++
	}
	return r, true
}

// number walks a number literal (RFC 8259 §6) and checks it against its target:
// an integer type's range, or else what DynamoDB can store.
func (w *walker) number(sh shape) *Error {
	start := w.i
	integer, err := w.numberLiteral()
	if err != nil {
		return err
	}
	lit := string(w.data[start:w.i])
	if sh.kind == kindInt || sh.kind == kindUint {
		return w.integer(sh, lit, integer)
	}
	if reason := dynamoNumber(lit); reason != "" {
		return w.fail("number_out_of_range", "Field %s: %s.", w.field(), reason)
	}
	return nil
}

// numberLiteral reads a JSON number's grammar at w.i and reports whether it is an
// integer (no fraction, no exponent).
func (w *walker) numberLiteral() (integer bool, err *Error) {
	if w.data[w.i] == '-' {
		w.i++
	}
	if w.i < len(w.data) && w.data[w.i] == '0' {
		w.i++
	} else if w.digits() == 0 {
		return false, w.badByte()
	}
	integer = true
	if w.i < len(w.data) && w.data[w.i] == '.' {
		integer = false
		w.i++
		if w.digits() == 0 {
			return false, w.badByte()
		}
	}
	if w.i < len(w.data) && (w.data[w.i] == 'e' || w.data[w.i] == 'E') {
		integer = false
		w.i++
		if w.i < len(w.data) && (w.data[w.i] == '+' || w.data[w.i] == '-') {
			w.i++
		}
		if w.digits() == 0 {
			return false, w.badByte()
		}
	}
	return integer, nil
}

// digits skips the decimal digits at w.i and returns how many there were.
func (w *walker) digits() int {
	n := 0
	for w.i < len(w.data) && w.data[w.i] >= '0' && w.data[w.i] <= '9' {
		w.i++
		n++
	}
	return n
}

// integer checks the number lit against sh, an integer type: an integer in its range.
func (w *walker) integer(sh shape, lit string, integer bool) *Error {
	if !integer {
		return w.fail("invalid_type", "Field %s must be an integer.", w.field())
	}
	var err error
	if sh.kind == kindInt {
		_, err = strconv.ParseInt(lit, 10, sh.bits)
	} else {
		_, err = strconv.ParseUint(lit, 10, sh.bits)
	}
	if err != nil {
		lo, hi := sh.intRange()
		return w.fail("number_out_of_range", "Field %s must be an integer from %s to %s.", w.field(), lo, hi)
	}
	return nil
}

// DynamoDB's number limits (Amazon DynamoDB Developer Guide, "Data types").
const (
	dynamoDigits = 38
	dynamoMaxExp = 125  // largest magnitude 9.99…(38 digits)E+125
	dynamoMinExp = -130 // smallest non-zero magnitude 1E-130
	// maxExpDigits: DynamoDB parses N as a Java BigDecimal, whose scale is an int32;
	// an exponent of ten digits can overflow it, even for zero. Nine digits never
	// does, whatever the fraction's length in a 64 KiB body.
	maxExpDigits   = 9
	reasonExponent = "its exponent is beyond what DynamoDB can parse"
)

// dynamoNumber says why DynamoDB cannot store the JSON number lit, or "" when it can.
// lit is a well-formed JSON number.
func dynamoNumber(lit string) string {
	s := strings.TrimPrefix(lit, "-")
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	if len(exp) > maxExpDigits {
		return reasonExponent
	}
	e, _ := strconv.ParseInt("0"+exp, 10, 64)
	if neg {
		e = -e
	}
	all := intPart + frac
	sig := strings.TrimLeft(all, "0")
	if sig == "" {
		return "" // zero, whatever its exponent within the bound
	}
	lead := len(all) - len(sig)
	sig = strings.TrimRight(sig, "0")
	if len(sig) > dynamoDigits {
		return fmt.Sprintf("DynamoDB stores at most %d significant digits", dynamoDigits)
	}
	// The decimal exponent of the first significant digit: value = d.ddd × 10^sci.
	sci := e + int64(len(intPart)) - int64(lead) - 1
	if sci > dynamoMaxExp || sci < dynamoMinExp {
		return "DynamoDB stores magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125"
	}
	return ""
}
