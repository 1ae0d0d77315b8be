package cache

import (
	"encoding/binary"
	"errors"

	"github.com/tollgate-dev/tollgate/core"
)

// entry is one cached answer: a whole body, or a stream's events exactly as
// they arrived (replayed through the SSE decoder, so each event's name, data
// and bytes are what the provider sent). It is never modified once stored,
// so one entry serves many hits at once.
type entry struct {
	stream      bool
	status      int
	contentType string
	body        []byte // the body, or the stream's concatenated events
	usage       core.Usage
}

// size is what the entry weighs against the byte bound.
func (e *entry) size() int { return len(e.body) + len(e.contentType) + 64 }

// encodeVersion starts every encoded entry; another version is a miss.
const encodeVersion = 1

// encode serializes an entry for Redis.
func (e *entry) encode() []byte {
	b := make([]byte, 0, len(e.body)+len(e.contentType)+64)
	b = append(b, encodeVersion)
	if e.stream {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(e.status))
	u := e.usage
	for _, n := range []int64{u.InputTokens, u.OutputTokens, u.TotalTokens, u.CachedInputTokens, u.CacheWriteTokens, u.ReasoningTokens} {
		b = binary.AppendUvarint(b, uint64(max(n, 0)))
	}
	b = binary.AppendUvarint(b, uint64(len(e.contentType)))
	b = append(b, e.contentType...)
	return append(b, e.body...)
}

var errBadEntry = errors.New("cache: stored entry is damaged or of another version")

// decode reads an entry written by encode.
func decode(b []byte) (*entry, error) {
	if len(b) < 2 || b[0] != encodeVersion {
		return nil, errBadEntry
	}
	e := &entry{stream: b[1] == 1}
	b = b[2:]
	var vals [8]uint64
	for i := range 8 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errBadEntry
		}
		vals[i], b = v, b[n:]
	}
	e.status = int(vals[0])
	e.usage = core.Usage{InputTokens: int64(vals[1]), OutputTokens: int64(vals[2]), TotalTokens: int64(vals[3]),
		CachedInputTokens: int64(vals[4]), CacheWriteTokens: int64(vals[5]), ReasoningTokens: int64(vals[6])}
	if uint64(len(b)) < vals[7] {
		return nil, errBadEntry
	}
	e.contentType, e.body = string(b[:vals[7]]), b[vals[7]:]
	return e, nil
}
