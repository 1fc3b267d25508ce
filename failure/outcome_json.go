package failure

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/vmlife/vmlife/internal/jsonread"
)

var outcomeKeys = jsonread.NewKeys(jsonread.Opt("status"), jsonread.Opt("error_code"), jsonread.Opt("communication"))

// The accepted-value phrases of an outcome's JSON fields.
const (
	acceptStatus    = "an HTTP error status 400..599"
	acceptErrorCode = `the response's error_code, such as "NO_SUCH_INSTANCE"`
)

// UnmarshalJSON reads an outcome as `vmlife classify` takes it: an error
// response `{"status": 404, "error_code": "NO_SUCH_INSTANCE"}` or no
// response `{"communication": "timeout"}`, every key optional, no other key.
// Which combinations make an outcome is Classify's rule, checked there. On
// error o is unchanged and the error is a *wire.DecodeError.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Outcome
	obj := d.Object(outcomeKeys)
	for obj.Next() {
		switch obj.Key() {
		case 0:
			v.Status = int(d.Int64(math.MinInt32, math.MaxInt32, acceptStatus))
		case 1:
			v.ErrorCode = string(d.String(acceptErrorCode))
		case 2:
			v.Communication = jsonread.Enum(&d, communications)
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*o = v
	return nil
}

// MarshalJSON writes the form UnmarshalJSON reads, with only the keys that
// are set.
func (o Outcome) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if o.Status != 0 {
		b = append(b, `"status":`...)
		b = strconv.AppendInt(b, int64(o.Status), 10)
	}
	if o.ErrorCode != "" {
		sep()
		b = append(b, `"error_code":`...)
		q, err := json.Marshal(o.ErrorCode)
		if err != nil {
			return nil, err
		}
		b = append(b, q...)
	}
	if o.Communication != 0 {
		sep()
		b = append(b, `"communication":"`...)
		b = append(b, communications.String(o.Communication)...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}
