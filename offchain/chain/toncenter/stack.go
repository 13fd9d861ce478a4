package toncenter

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// encodeStack renders get-method arguments in toncenter's request form.
// Integers go as decimal strings: both toncenter (Python int(x, 0)) and
// JavaScript servers (BigInt) parse those, while "-0x.." breaks BigInt.
func encodeStack(args []any) ([][2]string, error) {
	out := make([][2]string, 0, len(args))
	for i, a := range args {
		var e [2]string
		switch v := a.(type) {
		case *big.Int:
			if v == nil {
				return nil, fmt.Errorf("argument %d: nil *big.Int", i)
			}
			e = [2]string{"num", v.String()}
		case int:
			e = [2]string{"num", big.NewInt(int64(v)).String()}
		case int64:
			e = [2]string{"num", big.NewInt(v).String()}
		case int32:
			e = [2]string{"num", big.NewInt(int64(v)).String()}
		case uint64:
			e = [2]string{"num", new(big.Int).SetUint64(v).String()}
		case uint32:
			e = [2]string{"num", new(big.Int).SetUint64(uint64(v)).String()}
		case uint:
			e = [2]string{"num", new(big.Int).SetUint64(uint64(v)).String()}
		case *cell.Cell:
			if v == nil {
				return nil, fmt.Errorf("argument %d: nil *cell.Cell", i)
			}
			e = [2]string{"tvm.Cell", encodeBOC(v)}
		case *cell.Slice:
			if v == nil {
				return nil, fmt.Errorf("argument %d: nil *cell.Slice", i)
			}
			c, err := v.ToCell()
			if err != nil {
				return nil, fmt.Errorf("argument %d: converting slice to cell: %w", i, err)
			}
			e = [2]string{"tvm.Slice", encodeBOC(c)}
		case *cell.Builder:
			if v == nil {
				return nil, fmt.Errorf("argument %d: nil *cell.Builder", i)
			}
			e = [2]string{"tvm.Builder", encodeBOC(v.EndCell())}
		default:
			// toncenter v2 has no request encoding for null or tuples.
			return nil, fmt.Errorf("argument %d: type %T cannot be passed to a get-method through toncenter", i, a)
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeStack turns toncenter's top-level result stack ([[type, value], ...])
// into the Go values chain.Network documents.
func decodeStack(raw []json.RawMessage) ([]any, error) {
	out := make([]any, 0, len(raw))
	for i, r := range raw {
		v, err := decodeTopEntry(r)
		if err != nil {
			return nil, fmt.Errorf("stack entry %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

type bocJSON struct {
	Bytes string `json:"bytes"`
}

type elementsJSON struct {
	Elements []json.RawMessage `json:"elements"`
}

func decodeTopEntry(raw json.RawMessage) (any, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) == 0 {
		return nil, fmt.Errorf("not a [type, value] pair: %s", snippet(raw))
	}
	var typ string
	if err := json.Unmarshal(pair[0], &typ); err != nil {
		return nil, fmt.Errorf("entry type is not a string: %s", snippet(pair[0]))
	}
	var val json.RawMessage
	if len(pair) > 1 {
		val = pair[1]
	}
	switch typ {
	case "num", "number", "int":
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(val, &n); err != nil {
				return nil, fmt.Errorf("num value: %s", snippet(val))
			}
			s = n.String()
		}
		return parseInt(s)
	case "null":
		return nil, nil
	case "unsupported":
		// tonlib renders a TVM null inside results as "unsupported".
		return nil, nil
	case "cell", "tvm.Cell":
		return decodeBOCValue(val)
	case "slice", "tvm.Slice":
		c, err := decodeBOCValue(val)
		if err != nil {
			return nil, err
		}
		return c.BeginParse(), nil
	case "builder", "tvm.Builder":
		c, err := decodeBOCValue(val)
		if err != nil {
			return nil, err
		}
		return c.ToBuilder(), nil
	case "list", "tuple", "tvm.List", "tvm.Tuple":
		var e elementsJSON
		if err := json.Unmarshal(val, &e); err != nil {
			return nil, fmt.Errorf("%s value: %w", typ, err)
		}
		return decodeElements(e.Elements)
	default:
		return nil, fmt.Errorf("unknown entry type %q", typ)
	}
}

// decodeBOCValue reads a cell given either as {"bytes": base64} (toncenter's
// answer form) or as a bare base64 string.
func decodeBOCValue(val json.RawMessage) (*cell.Cell, error) {
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		var b bocJSON
		if err := json.Unmarshal(val, &b); err != nil {
			return nil, fmt.Errorf("cell value: %s", snippet(val))
		}
		s = b.Bytes
	}
	c, err := decodeBOC(s)
	if err != nil {
		return nil, fmt.Errorf("cell value: %w", err)
	}
	return c, nil
}

func decodeElements(raw []json.RawMessage) ([]any, error) {
	out := make([]any, 0, len(raw))
	for i, r := range raw {
		v, err := decodeTypedEntry(r)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// typedJSON is tonlib's tagged stack entry, as found inside tuples and lists.
type typedJSON struct {
	Type     string            `json:"@type"`
	Number   json.RawMessage   `json:"number"`
	Cell     json.RawMessage   `json:"cell"`
	Slice    json.RawMessage   `json:"slice"`
	Builder  json.RawMessage   `json:"builder"`
	Tuple    json.RawMessage   `json:"tuple"`
	List     json.RawMessage   `json:"list"`
	Bytes    string            `json:"bytes"`
	Elements []json.RawMessage `json:"elements"`
}

func decodeTypedEntry(raw json.RawMessage) (any, error) {
	var t typedJSON
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("not a tagged entry: %s", snippet(raw))
	}
	switch t.Type {
	case "tvm.stackEntryNumber":
		return decodeTypedEntry(t.Number)
	case "tvm.numberDecimal":
		var s string
		if err := json.Unmarshal(t.Number, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(t.Number, &n); err != nil {
				return nil, fmt.Errorf("number value: %s", snippet(t.Number))
			}
			s = n.String()
		}
		return parseInt(s)
	case "tvm.stackEntryCell":
		return decodeTypedEntry(t.Cell)
	case "tvm.stackEntrySlice":
		return decodeTypedEntry(t.Slice)
	case "tvm.stackEntryBuilder":
		return decodeTypedEntry(t.Builder)
	case "tvm.stackEntryTuple":
		return decodeTypedEntry(t.Tuple)
	case "tvm.stackEntryList":
		return decodeTypedEntry(t.List)
	case "tvm.cell":
		return decodeTaggedBOC(t.Bytes)
	case "tvm.slice":
		c, err := decodeTaggedBOC(t.Bytes)
		if err != nil {
			return nil, err
		}
		return c.BeginParse(), nil
	case "tvm.builder":
		c, err := decodeTaggedBOC(t.Bytes)
		if err != nil {
			return nil, err
		}
		return c.ToBuilder(), nil
	case "tvm.tuple", "tvm.list":
		return decodeElements(t.Elements)
	case "tvm.stackEntryUnsupported":
		// tonlib has no tagged form for a TVM null and renders it as
		// "unsupported"; a null is by far the common case (optional fields of
		// tuples), so it is decoded as nil rather than failing the call.
		return nil, nil
	default:
		return nil, fmt.Errorf("unknown entry type %q", t.Type)
	}
}

func decodeTaggedBOC(s string) (*cell.Cell, error) {
	c, err := decodeBOC(s)
	if err != nil {
		return nil, fmt.Errorf("cell value: %w", err)
	}
	return c, nil
}
