package wire

// ID is what every vmlife id is: a UUID that may be nil, written as text.
type ID interface {
	IsZero() bool
	AppendText([]byte) ([]byte, error)
}

// AppendIDOrNull appends id as a JSON string, or null for the nil UUID (a
// NULL column).
func AppendIDOrNull(b []byte, id ID) []byte {
	if id.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b, _ = id.AppendText(b)
	return append(b, '"')
}
