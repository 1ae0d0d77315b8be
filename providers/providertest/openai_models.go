package providertest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// modelCreated is the creation time every listed model reports.
const modelCreated = 1715367049

// openAIModel is one entry of OpenAI's model list.
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type openAIModelList struct {
	Object string        `json:"object"`
	Data   []openAIModel `json:"data"`
}

func newOpenAIModel(id string) openAIModel {
	return openAIModel{ID: id, Object: "model", Created: modelCreated, OwnedBy: "system"}
}

// listModels answers GET /v1/models.
func (o openAI) listModels(w http.ResponseWriter, _ *http.Request, c *call) {
	list := openAIModelList{Object: "list", Data: make([]openAIModel, 0, len(o.p.cfg.models))}
	for _, id := range o.p.cfg.models {
		list.Data = append(list.Data, newOpenAIModel(id))
	}
	o.writeJSON(w, c, list)
}

// getModel answers GET /v1/models/{id}.
func (o openAI) getModel(w http.ResponseWriter, r *http.Request, c *call) {
	id := strings.TrimPrefix(stripV1(r.URL.Path), "/models/")
	if !slices.Contains(o.p.cfg.models, id) {
		o.writeError(w, http.StatusNotFound, fmt.Sprintf("The model '%s' does not exist", id), "invalid_request_error", "model", "model_not_found")
		return
	}
	o.writeJSON(w, c, newOpenAIModel(id))
}
