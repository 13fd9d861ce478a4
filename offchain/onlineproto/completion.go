package onlineproto

import (
	"strconv"
	"unicode/utf8"
)

// Completion writes the OpenAI objects of one answer as server-sent
// events, appending bytes directly: a stream writes 50 or more chunks per
// answer, and encoding each through maps was most of the endpoint's CPU.
// The gateway writes its own answers with it too.
type Completion struct {
	ID, Model string
	Created   int64
}

// AppendChunk appends `data: {chat.completion.chunk}\n\n` with one choice:
// the delta's role (first chunk), its content, and the finish reason ("":
// null).
func (c *Completion) AppendChunk(b []byte, content string, role bool, finish string) []byte {
	b = c.appendHead(b)
	b = append(b, `"choices":[{"index":0,"delta":{`...)
	sep := false
	if role {
		b = append(b, `"role":"assistant"`...)
		sep = true
	}
	if content != "" || (role && finish == "") {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"content":`...)
		b = AppendJSONString(b, content)
	}
	b = append(b, `},"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = AppendJSONString(b, finish)
	}
	return append(b, "}]}\n\n"...)
}

// AppendUsageChunk appends the last chunk of a stream with usage: empty
// choices, the token counts, and (when extension is not nil) the worker's
// "cocoon" member, already encoded.
func (c *Completion) AppendUsageChunk(b []byte, in, out uint32, extension []byte) []byte {
	b = c.appendHead(b)
	b = append(b, `"choices":[],"usage":{"prompt_tokens":`...)
	b = strconv.AppendUint(b, uint64(in), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendUint(b, uint64(out), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendUint(b, uint64(in)+uint64(out), 10)
	b = append(b, '}')
	if extension != nil {
		b = append(b, `,"cocoon":`...)
		b = append(b, extension...)
	}
	return append(b, "}\n\n"...)
}

func (c *Completion) appendHead(b []byte) []byte {
	b = append(b, `data: {"id":`...)
	b = AppendJSONString(b, c.ID)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, c.Created, 10)
	b = append(b, `,"model":`...)
	b = AppendJSONString(b, c.Model)
	return append(b, ',')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped (as encoding/json does, for JavaScript consumers).
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
