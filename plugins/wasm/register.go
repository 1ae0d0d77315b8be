package wasm

import "github.com/tollgate-dev/tollgate/pipeline"

func init() {
	pipeline.RegisterKind("wasm", newStage)
	pipeline.RegisterSink("wasm", newSink)
}
