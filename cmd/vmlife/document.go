package main

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/wire"
)

// The snapshot document (docs/cli.md) is the library's:
// instancestate.Document decodes it strictly and validates the snapshot;
// this file only turns a broken rule into the one line the tool prints.

// decodeDocument reads a snapshot document. Bad input is a
// *wire.DecodeError (exit 2) naming the path and the accepted values, or
// the broken D17 rule.
func decodeDocument(data []byte) (instancestate.Document, error) {
	var d instancestate.Document
	if err := d.UnmarshalJSON(data); err != nil {
		return instancestate.Document{}, ruleInput(err, true)
	}
	return d, nil
}

// encodeDocument writes a snapshot document as the library does.
func encodeDocument(d instancestate.Document) (json.RawMessage, error) {
	return d.MarshalJSON()
}

// ruleInput turns a *instancestate.RuleError into a *wire.DecodeError at
// the JSON path of the field it names. fromValidate says the rule is one
// of D17's, which the message names as such; any other error is returned
// as it is.
func ruleInput(err error, fromValidate bool) error {
	var re *instancestate.RuleError
	if !errors.As(err, &re) {
		return err
	}
	rule := "rule " + re.Rule
	if fromValidate {
		rule = "D17 rule " + re.Rule
	}
	return &wire.DecodeError{Path: columnPath(re.Field), Problem: re.Detail + " (breaks " + rule + ")", Err: err}
}

// columnPath returns the document path of a RuleError's field, which is an
// instance column or a path under one of the other records.
func columnPath(field string) string {
	for _, rec := range []string{"active_vmm", "target_vmm", "migration"} {
		if field == rec || strings.HasPrefix(field, rec+".") {
			return field
		}
	}
	if field == "auto_restart_cooldown" {
		field = "auto_restart_cooldown_secs"
	}
	return wire.JoinPath("instance", field)
}
