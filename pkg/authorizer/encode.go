package authorizer

import (
	"unicode/utf8"
)

// appendSimple appends the HTTP API simple response of out, as
// events.APIGatewayV2CustomAuthorizerSimpleResponse with contextOf(out) encodes it, to
// b. It is written by hand because it answers every request of every protected HTTP
// API: through a map and reflection it cost several times the rest of the answer.
func appendSimple(b []byte, out outcome) []byte {
	b = append(b, `{"isAuthorized":`...)
	if out.allowed {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	p := out.principal
	switch {
	case p.KeyID != "":
		b = append(b, `,"context":{"auth":`...)
		b = appendString(b, p.Kind)
		if out.code != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, out.code)
		}
		b = append(b, `,"key_id":`...)
		b = appendString(b, p.KeyID)
		b = append(b, `,"owner":`...)
		b = appendString(b, p.Owner)
		b = append(b, `,"scopes":`...)
		b = appendString(b, p.Scopes.Join())
		b = append(b, '}')
	case out.code != "":
		b = append(b, `,"context":{"error":`...)
		b = appendString(b, out.code)
		b = append(b, '}')
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: '"', '\' and control characters escaped,
// and each byte that is not valid UTF-8 replaced by U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, `\ufffd`...)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
