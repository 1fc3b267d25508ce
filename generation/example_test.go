package generation_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/generation"
)

func ExampleInitial() {
	g := generation.Initial()
	next, _ := g.Next()
	fmt.Println(g, next)
	// Output: 1 2
}

// A guarded write is accepted only when it carries a newer generation (D5).
func ExampleGeneration_After() {
	stored := generation.Of(4)
	for _, reported := range []generation.Generation{generation.Of(3), generation.Of(4), generation.Of(5)} {
		fmt.Printf("report gen %v over stored %v: apply=%v\n", reported, stored, reported.After(stored))
	}
	// Output:
	// report gen 3 over stored 4: apply=false
	// report gen 4 over stored 4: apply=false
	// report gen 5 over stored 4: apply=true
}

// Next of Max is an error, never a wrap (§1, D5).
func ExampleGeneration_Next() {
	max, _ := generation.FromInt64(generation.Max)
	_, err := max.Next()
	fmt.Println(errors.Is(err, generation.ErrOverflow))
	fmt.Println(err)
	// Output:
	// true
	// generation 9223372036854775807+1: generation number too large (want an integer between 0 and 9223372036854775807)
}

func ExampleGeneration_Prev() {
	for _, g := range []generation.Generation{generation.Of(0), generation.Of(1), generation.Of(2)} {
		p, ok := g.Prev()
		fmt.Println(g, "->", p, ok)
	}
	// Output:
	// 0 -> 0 false
	// 1 -> 1 false
	// 2 -> 1 true
}

func ExampleParse() {
	for _, s := range []string{"7", "-1", "9223372036854775808", "+7"} {
		g, err := generation.Parse(s)
		var ge *generation.Error
		switch {
		case err == nil:
			fmt.Println(s, "=", g)
		case errors.As(err, &ge):
			fmt.Printf("%s: %v\n", s, ge.Err)
		}
	}
	// Output:
	// 7 = 7
	// -1: negative generation number
	// 9223372036854775808: generation number too large
	// +7: generation is not a decimal integer
}

func ExampleFromUint64() {
	_, err := generation.FromUint64(1 << 63)
	fmt.Println(errors.Is(err, generation.ErrOverflow))
	// Output: true
}

// On the wire a generation is a bare JSON integer (§1, D9).
func ExampleGeneration_MarshalJSON() {
	out, _ := json.Marshal(struct {
		Gen generation.Generation `json:"state_generation"`
	}{generation.Of(3)})
	fmt.Println(string(out))
	// Output: {"state_generation":3}
}

// A string, a null or a negative number is refused, and the field keeps its
// value.
func ExampleGeneration_UnmarshalJSON() {
	var rec struct {
		Gen generation.Generation `json:"state_generation"`
	}
	for _, doc := range []string{`{"state_generation":5}`, `{"state_generation":"6"}`, `{"state_generation":-1}`} {
		err := json.Unmarshal([]byte(doc), &rec)
		fmt.Println(rec.Gen, err != nil)
	}
	// Output:
	// 5 false
	// 5 true
	// 5 true
}

// A database INT8 column scans in; a negative one is refused (§1).
func ExampleGeneration_Scan() {
	var g generation.Generation
	fmt.Println(g.Scan(int64(12)), g)
	fmt.Println(errors.Is(g.Scan(int64(-3)), generation.ErrNegative), g)
	// Output:
	// <nil> 12
	// true 12
}
