module github.com/vmlife/vmlife/bench/peers

go 1.26

require (
	github.com/go-json-experiment/json v1.27.2
	github.com/looplab/fsm v1.0.3
	github.com/qmuntal/stateless v1.7.2
	github.com/vmlife/vmlife v0.1.0
)

require github.com/google/uuid v1.6.0 // indirect
