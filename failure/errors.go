package failure

import "github.com/vmlife/vmlife/internal/enum"

// ErrUnknown is matched by errors.Is for any string, number or column value
// that names no value of one of vmlife's enums, in this package and every
// other. It is the same sentinel everywhere.
var ErrUnknown = enum.ErrUnknown

// UnknownError is the error for a value an enum does not accept: the type,
// the input and every accepted string (D3). errors.As finds it.
type UnknownError = enum.Error
