package wire

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// The bounds every vmlife reader enforces (D24).
const (
	// MaxDocumentSize is the default bound on one document read from a
	// stream: far above any real snapshot (a few kilobytes), far below what
	// would let a caller run the process out of memory.
	MaxDocumentSize = 1 << 20
	// MaxDepth bounds how deeply a document's values nest, including the
	// values of keys a lenient decoder skips (D20).
	MaxDepth = 32
)

// ErrTooLarge is matched by errors.Is when a stream holds more than the
// bound allows.
var ErrTooLarge = errors.New("document too large")

// ReadDocument reads one JSON object document from r, at most limit bytes
// (MaxDocumentSize when limit is 0 or less). It refuses at once a first
// byte (after white space) that cannot start a JSON object, and stops
// reading at the first byte past the bound, so memory stays proportional
// to limit whatever r offers — an endless stream included. Errors other
// than r's own are *DecodeErrors.
func ReadDocument(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxDocumentSize
	}
	br := bufio.NewReaderSize(r, 4096)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil, &DecodeError{Problem: "empty", Accepted: "a JSON object"}
		}
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c != '{' {
			return nil, &DecodeError{Problem: "want a JSON object, got " + quoteByte(c), Value: string([]byte{c}), Accepted: "a JSON object"}
		}
		break
	}
	buf := []byte{'{'}
	lr := io.LimitReader(br, limit) // the '{' read already counts as one byte of slack
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &DecodeError{
				Problem:  "more than " + strconv.FormatInt(limit, 10) + " bytes",
				Accepted: "a document of at most " + strconv.FormatInt(limit, 10) + " bytes",
				Err:      ErrTooLarge,
			}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// quoteByte shows a byte that cannot start a document: '[' for printable
// ASCII, byte 0xff otherwise (never the raw byte, which may not be text).
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}
