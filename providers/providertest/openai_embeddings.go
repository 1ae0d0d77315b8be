package providertest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// embeddingDims is the length of every embedding vector.
const embeddingDims = 8

// embeddingsRequest is the part of an embeddings body the provider reads.
type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
}

// embeddingInputs returns the token count of each input: the words of a
// string, the length of an array of token ids.
func embeddingInputs(raw json.RawMessage) ([]int, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []int{ReplyTokens(s)}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("'input' must be a string, an array of strings or an array of token arrays")
	}
	counts := make([]int, 0, len(items))
	for _, it := range items {
		var ids []int
		switch {
		case json.Unmarshal(it, &s) == nil:
			counts = append(counts, ReplyTokens(s))
		case json.Unmarshal(it, &ids) == nil:
			counts = append(counts, len(ids))
		default:
			var id int
			if json.Unmarshal(it, &id) != nil {
				return nil, errors.New("'input' items must be strings or token arrays")
			}
			return []int{len(items)}, nil // one array of token ids
		}
	}
	return counts, nil
}

// embeddingTokens returns the prompt tokens of an embeddings body: the words
// of each input string, or the number of ids of each token array.
func embeddingTokens(body []byte) (int, error) {
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, err
	}
	counts, err := embeddingInputs(req.Input)
	n := 0
	for _, c := range counts {
		n += c
	}
	return n, err
}

// embedding is a deterministic vector for input i of n tokens.
func embedding(i, n int) []float32 {
	v := make([]float32, embeddingDims)
	for d := range v {
		v[d] = float32(math.Sin(float64((i+1)*(d+1)+n))) / 2
	}
	return v
}

// embeddings answers POST /v1/embeddings, with float or base64 vectors.
func (o openAI) embeddings(w http.ResponseWriter, _ *http.Request, c *call) {
	var req embeddingsRequest
	err := json.Unmarshal(c.body, &req)
	var counts []int
	if err == nil && len(req.Input) > 0 {
		counts, err = embeddingInputs(req.Input)
	}
	switch {
	case err != nil:
		o.writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request body: %v", err), "invalid_request_error", "input", "")
		return
	case req.Model == "":
		o.writeError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
		return
	case len(req.Input) == 0:
		o.writeError(w, http.StatusBadRequest, "Missing required parameter: 'input'.", "invalid_request_error", "input", "missing_required_parameter")
		return
	}
	data := make([]map[string]any, len(counts))
	total := 0
	for i, n := range counts {
		total += n
		vec := embedding(i, n)
		var value any = vec
		if strings.EqualFold(req.EncodingFormat, "base64") {
			b := make([]byte, 4*len(vec))
			for d, f := range vec {
				binary.LittleEndian.PutUint32(b[4*d:], math.Float32bits(f))
			}
			value = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": value}
	}
	o.writeJSON(w, c, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": total, "total_tokens": total}})
}

// listFiles answers GET /v1/files with an empty list: an endpoint tollgate
// passes through without metering.
func (o openAI) listFiles(w http.ResponseWriter, _ *http.Request, c *call) {
	o.writeJSON(w, c, map[string]any{"object": "list", "data": []any{}, "has_more": false})
}
