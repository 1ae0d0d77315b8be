package h1server

import (
	"bufio"
	"io"
	"sync"
)

// Buffers outlive their connection in pools, as net/http's do: a
// connection costs no allocation of them once the server is warm.
var (
	readerPool  sync.Pool
	writerPool  sync.Pool
	pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, pendingSize); return &b }}
)

const pendingSize = 2 << 10 // net/http's bufferBeforeChunkingSize

func getReader(r io.Reader) *bufio.Reader {
	if br, ok := readerPool.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 4<<10)
}

func putReader(br *bufio.Reader) {
	if br != nil {
		br.Reset(nil)
		readerPool.Put(br)
	}
}

func getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := writerPool.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 4<<10)
}

func putWriter(bw *bufio.Writer) {
	if bw != nil {
		bw.Reset(nil)
		writerPool.Put(bw)
	}
}

func getPending() []byte { return (*pendingPool.Get().(*[]byte))[:0] }

func putPending(b []byte) {
	if b != nil {
		pendingPool.Put(&b)
	}
}
