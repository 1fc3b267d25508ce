// Command uuidonly links github.com/google/uuid, vmlife's one runtime
// dependency, and does nothing: the second baseline of BenchmarkStart.
package main

import _ "github.com/google/uuid"

func main() {}
