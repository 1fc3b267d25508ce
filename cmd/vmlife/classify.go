package main

import (
	"errors"

	"github.com/vmlife/vmlife/failure"
)

func init() {
	commands["classify"] = command{
		run:   jsonCommand("classify", classify),
		usage: "classify [FILE]\twhat a sled-agent call outcome means (D18): {\"status\", \"error_code\"} or {\"communication\"}",
	}
}

// classifyJSON is the output of classify, in docs/cli.md's key order.
type classifyJSON struct {
	VMMGone       bool    `json:"vmm_gone"`
	FailureReason *string `json:"failure_reason"`
	HTTPStatus    int     `json:"http_status"`
}

// classify decodes a sled-agent call outcome — an error response
// {"status", "error_code"} or no response {"communication"}
// (failure.Outcome's JSON) — and returns failure.Classify's verdict (D18,
// §11). Which combinations make an outcome is failure's rule, not this
// command's: its *OutcomeError names the field.
func classify(input []byte) (any, error) {
	var o failure.Outcome
	if err := o.UnmarshalJSON(input); err != nil {
		return nil, err
	}
	c, err := failure.Classify(o)
	if err != nil {
		var oe *failure.OutcomeError
		if errors.As(err, &oe) {
			return nil, badInput(oe.Field, oe.Value, oe.Accepted)
		}
		return nil, err
	}
	out := classifyJSON{VMMGone: c.VMMGone, HTTPStatus: c.HTTPStatus}
	if c.Reason.IsValid() {
		s := c.Reason.String()
		out.FailureReason = &s
	}
	return out, nil
}
