// Package wire holds what vmlife's JSON documents share: the error every
// decoder returns (DecodeError, with the JSON path, the offending value and
// the accepted values), the time format every document uses (RFC 3339,
// written in UTC, read only in forms that write back to the same instant),
// and the bounds every reader enforces (D24).
//
// The documents themselves belong to the packages whose values they carry:
// vmmstate's runtimes and sled-agent reports, migration's sides and records,
// instancestate's instance record, snapshot document and report. Each
// decodes strictly — an unknown or repeated key, a value of the wrong type,
// an unknown enum string is a *DecodeError — except the documents a
// sled-agent writes, which ignore keys they do not know (D20).
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package wire
