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

cfg := lib.config("injection")

heuristics := object.union({
	"override": `\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|preceding|all|any|your)\b.{0,30}\b(instructions?|prompts?|rules|guidelines|directions|context)\b`,
	"new_instructions": `\b(new|updated|real)\s+(system\s+)?instructions\s*:`,
	"mode_switch": `\b(you are now|act as|pretend (to be|you are)|from now on you are)\b.{0,40}\b(dan|jailbr[eo]ak\w*|developer mode|unfiltered|unrestricted|no (rules|restrictions|limits))\b`,
	"jailbreak": `\b(jailbreak|do anything now|dan mode)\b`,
	"reveal_prompt": `\b(reveal|print|show|repeat|output|leak|tell me)\b.{0,30}\b(system prompt|hidden (prompt|instructions)|initial instructions|your instructions)\b`,
	"chat_markup": `<\|im_(start|end)\|>|<\|(system|endoftext)\|>|\[/?INST\]|<<SYS>>|(^|\n)#{2,}\s*(system|assistant)\s*:`,
}, object.get(cfg, "patterns", {}))

roles := object.get(cfg, "roles", ["user", "tool"])

threshold := object.get(cfg, "threshold", 1)

text := lib.prompt_of(roles)

# triggers are words every built-in heuristic needs; a prompt with none of
# them is not checked further (one linear scan, where the patterns would
# cost a regular-expression pass each). Extra patterns skip the shortcut.
triggers := [
	"ignore", "disregard", "forget", "override", "instructions", "jailbr", "anything now", "dan mode",
	"you are now", "act as", "pretend", "from now on", "prompt", "<|", "inst]", "<<sys>>", "##",
]

# The shortcut scans the whole prompt (lib.prompt, already built for the PII
# guard), so that the role filter is only paid for when a trigger is there.
matched := set() if {
	not cfg.patterns
	count(tollgate.strings.contains_any(lib.prompt, triggers)) == 0
} else := {name |
	some name, p in heuristics
	regex.match(concat("", ["(?i)", p]), text)
}

deny contains msg if {
	count(matched) >= threshold
	object.get(cfg, "enabled", true)
	msg := sprintf("the prompt looks like a prompt-injection attempt (%s)", [concat(", ", sort(matched))])
}
