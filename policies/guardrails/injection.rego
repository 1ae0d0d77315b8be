# Prompt-injection heuristics: phrases that try to override the system
# prompt, unlock a "mode", extract hidden instructions, or smuggle in chat
# markup. A heuristic, not a classifier: it catches the common attacks in
# plain text and misses paraphrases.
#
# data.tollgate.config.injection:
#   enabled:   true (default) | false
#   roles:     the message roles to check (default ["user", "tool"])
#   threshold: how many heuristics must match to deny (default 1)
#   patterns:  extra {name: regex} heuristics, case-insensitive
package tollgate.guardrails.injection

import data.tollgate.lib

# cfg is lib.config("injection"), as a rule with a default rather than a
# function call: cheaper to evaluate on every call.
default cfg := {}

cfg := data.tollgate.config.injection

heuristics := object.union({
	"override": `\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|preceding|all|any|your)\b.{0,30}\b(instructions?|prompts?|rules|guidelines|directions|context)\b`,
	"new_instructions": `\b(new|updated|real)\s+(system\s+)?instructions\s*:`,
	"mode_switch": `\b(you are now|act as|pretend (to be|you are)|from now on you are)\b.{0,40}\b(dan|jailbr[eo]ak\w*|developer mode|unfiltered|unrestricted|no (rules|restrictions|limits))\b`,
	"jailbreak": `\b(jailbreak|do anything now|dan mode)\b`,
	"reveal_prompt": `\b(reveal|print|show|repeat|output|leak|tell me)\b.{0,30}\b(system prompt|hidden (prompt|instructions)|initial instructions|your instructions)\b`,
	"chat_markup": `<\|im_(start|end)\|>|<\|(system|endoftext)\|>|\[/?INST\]|<<SYS>>|(^|\n)#{2,}\s*(system|assistant)\s*:`,
}, object.get(cfg, "patterns", {}))

roles := object.get(cfg, "roles", ["user", "tool"])

text := lib.prompt_of(roles)

# matched is the set of heuristics the prompt of the checked roles matches.
# A shortcut comes first: the words every built-in heuristic needs (the
# list below); a prompt with none of them is not checked further (one
# linear scan of the whole prompt, lib.prompt, already built for the PII
# guard, where the patterns would cost a regular-expression pass each and
# the role filter a pass over the texts). Extra patterns skip the shortcut.
# The list is written in place, not as a rule of its own: one rule fewer
# for the evaluator on every call.
matched := set() if {
	not cfg.patterns
	count(tollgate.strings.contains_any(lib.prompt, [
		"ignore", "disregard", "forget", "override", "instructions", "jailbr", "anything now", "dan mode",
		"you are now", "act as", "pretend", "from now on", "prompt", "<|", "inst]", "<<sys>>", "##",
	])) == 0
} else := {name |
	some name, p in heuristics
	regex.match(concat("", ["(?i)", p]), text)
}

# The threshold (default 1) is read in place, for the same reason.
deny contains msg if {
	count(matched) >= object.get(cfg, "threshold", 1)
	object.get(cfg, "enabled", true)
	msg := sprintf("the prompt looks like a prompt-injection attempt (%s)", [concat(", ", sort(matched))])
}
