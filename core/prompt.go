package core

// EstimatePrompt returns u, the gateway's estimate of the usage of a call
// that reached the upstream and got no usable report of it (a stream cut
// short, an answer with no usage to read), with the prompt's estimate as
// its input tokens, flagged Estimated, when req's format makes one
// ([PromptEstimator]) and u counted no input. Otherwise it returns u as
// it is. The result obeys the rule of [CheckUsage]: an estimate that
// would break it is not added.
func EstimatePrompt(req *Request, u Usage) Usage {
	pe, ok := req.Format.(PromptEstimator)
	if !ok || u.InputTokens != 0 {
		return u
	}
	withPrompt := u
	withPrompt.InputTokens = pe.PromptTokens(req)
	if withPrompt.InputTokens <= 0 || CheckUsage(withPrompt) != nil {
		return u
	}
	return EstimatedUsage(withPrompt, u.Problem)
}
