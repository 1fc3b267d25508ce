// Command empty does nothing: the baseline of BenchmarkStart.
package main

func main() {}
