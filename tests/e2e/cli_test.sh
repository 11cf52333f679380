#!/usr/bin/env bash
# End-to-end: drives the real `hearth` binary.
#   $1 = path to hearth, $2 = default shared data folder (HEARTH_SHARED wins).
set -uo pipefail
H="$1"
S="${HEARTH_SHARED:-$2}"
[ -d "$S/models" ] || { echo "FAIL: shared data missing at $S"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
# Output is matched with `grep -q PATTERN <<<"$out"`, never `echo "$out" | grep -q`:
# grep -q exits at the first match, and a writer still writing the next line
# then dies of SIGPIPE, which pipefail turns into a failed check.
hex() { od -An -tx1 -v | tr -d ' \n'; }
json_str() { grep -o "\"$1\": *\"[^\"]*\"" "$2" | sed 's/.*: *"\(.*\)"/\1/'; }

# 1. The trained model's greedy continuation of `dream` is byte-exact.
want=$(json_str greedy_text_bytes_hex "$S/reference/aidreams260K.dream.json")
got=$("$H" run "$S/models/aidreams260K.gguf" -p "$(cat "$S/prompts/dream.txt")" -n 64 --temp 0 --threads 2 | hex)
[ -n "$want" ] && [ "$got" = "$want" ]; check "run: aidreams greedy text matches the reference byte for byte" $?

# 2. Seeded sampling is reproducible.
a=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 32 --temp 0.9 --seed 42)
b=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 32 --temp 0.9 --seed 42)
[ -n "$a" ] && [ "$a" = "$b" ]; check "run: same seed, same text" $?

# 3. tokenize / detokenize round trip and --ids format.
ids=$("$H" tokenize "$S/models/synth-qwen2-bpe32k-F16.gguf" "Hello world" --ids)
[ "$ids" = "17535 1835" ]; check "tokenize --ids prints one line of ids" $?
txt=$("$H" detokenize "$S/models/synth-qwen2-bpe32k-F16.gguf" "${ids// /,}")
[ "$txt" = "Hello world" ]; check "detokenize gives the text back" $?
printf 'line1\nline2 \xc3\xa9' > "$T/in.txt"
ids=$("$H" tokenize "$S/models/llama-2-tiny-random.gguf" --file "$T/in.txt" --ids --add-special)
[ "${ids%% *}" = "1" ]; check "tokenize --add-special adds BOS" $?

# 4. Bad input: clear errors, non-zero exit, no crash.
head -c 100 "$S/models/aidreams260K.gguf" > "$T/trunc.gguf"
out=$("$H" inspect "$T/trunc.gguf" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "corrupt: .*trunc.gguf: .* at offset" <<<"$out"; check "inspect of a truncated file fails with a message naming the offset" $?
# JSON mode: the greedy text starts another way; constrained, it opens an object.
out=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 24 --temp 0 --format json 2>/dev/null)
free=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 24 --temp 0 2>/dev/null)
printf '%s' "$out" | python3 -c 'import re, sys; t = sys.stdin.read(); sys.exit(0 if re.match(r"\s{0,2}\{", t) else 1)' &&
  ! grep -q '^ *{' <<<"$free"
check "run --format json constrains the output to a JSON object" $?
printf '%s' '{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}' > "$T/schema.json"
out=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 48 --temp 0 --format "$T/schema.json" 2>/dev/null)
printf '%s' "$out" | python3 -c 'import json, sys; v = json.loads(sys.stdin.read()); sys.exit(0 if list(v) == ["ok"] and isinstance(v["ok"], bool) else 1)'
check "run --format SCHEMA_FILE: the output is JSON matching the schema" $?
out=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 4 --format '{"type": "integer", "multipleOf": 3}' 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "keyword 'multipleOf' is not supported" <<<"$out"; check "run --format with an unsupported schema keyword fails naming it" $?
out=$("$H" run "$S/models/aidreams260K.gguf" --tokens 1,99999 -n 1 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "outside the vocabulary" <<<"$out"; check "run rejects an out-of-vocabulary id" $?
out=$("$H" run "$S/models/aidreams260K.gguf" -p "$(head -c 2000 /dev/zero | tr '\0' a)" -n 1 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "context holds" <<<"$out"; check "run reports a prompt longer than the context" $?

# 5. logits: batch and one-by-one agree.
"$H" logits "$S/models/aidreams260K.gguf" --tokens 1,303,281 --out "$T/a.f32" && \
"$H" logits "$S/models/aidreams260K.gguf" --tokens 1,303,281 --out "$T/b.f32" --one-by-one
[ "$(stat -c %s "$T/a.f32")" = $((3 * 512 * 4)) ] && [ "$(stat -c %s "$T/b.f32")" = $((3 * 512 * 4)) ]
check "logits writes positions x vocab float32" $?

# 6. quantize + synth produce loadable models.
"$H" synth --dim 64 --layers 1 --heads 2 --kv-heads 1 --ffn 128 --vocab-from "$S/vocab/ggml-vocab-llama-spm.gguf" "$T/s.gguf" 2>/dev/null && \
"$H" quantize "$T/s.gguf" "$T/q.gguf" Q8_0 2>/dev/null && \
"$H" run "$T/q.gguf" -p "hi" -n 4 --temp 0 > /dev/null
check "synth -> quantize -> run" $?

# 7. template render: exact text, errors exit non-zero.
printf '[{"role":"user","content":"Hi"}]' > "$T/m.json"
out=$("$H" template render --template "$S/templates/Qwen-Qwen2.5-7B-Instruct.jinja" --messages "$T/m.json" --add-generation-prompt | tail -c 10 | hex)
[ "$out" = "617373697374616e740a" ]; check "template render prints the text exactly (ends with the generation prompt, no extra newline)" $?
printf '[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]' > "$T/s.json"
out=$("$H" template render --template "$S/templates/google-gemma-2-2b-it.jinja" --messages "$T/s.json" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "System role not supported" <<<"$out"; check "template render exits non-zero with the template's error" $?

# 8. The store from the CLI: create (with --quantize), list, show, cp, rm.
export HEARTH_HOME="$T/home"
printf 'FROM %s\nPARAMETER temperature 0\nSYSTEM """Be brief."""\n' "$S/models/synth-llama-spm512-F16.gguf" > "$T/Modelfile"
"$H" create small -f "$T/Modelfile" --quantize Q8_0 2>/dev/null && \
grep -Eq "^small:latest .* (Less than a second|1 second|[0-9]+ seconds) ago$" <<<"$("$H" list)" && \
grep -q "Be brief." <<<"$("$H" show small --system)" && \
grep -q temperature <<<"$("$H" show small --parameters)" && \
"$H" cp small small:copy 2>/dev/null && "$H" rm small 2>/dev/null && \
"$H" run small:copy -p "hi" -n 2 > /dev/null && "$H" rm small:copy 2>/dev/null && \
[ -z "$(ls "$HEARTH_HOME/blobs" | grep sha256-)" ]
check "create --quantize / list / show / cp / rm / run a store name; the last rm frees the blob" $?
# A model whose TEMPLATE opens a <think> block: run shows the reasoning as
# `ollama run` does; --hidethinking hides it, --think=false turns it off.
printf 'FROM %s\nTEMPLATE """<|user|>{{ .Prompt }}<|assistant|>{{ if .Think }}<think>\n{{ else }}<think></think>{{ end }}"""\n' \
  "$S/models/synth-qwen2-bpe32k-F16.gguf" > "$T/Modelfile.think"
"$H" create thinker -f "$T/Modelfile.think" 2>/dev/null
out=$("$H" run thinker --local -p hi -n 6 --temp 0) && hidden=$("$H" run thinker --local -p hi -n 6 --temp 0 --hidethinking) &&
  off=$("$H" run thinker --local -p hi -n 6 --temp 0 --think=false) && chat=$(echo hi | "$H" run thinker --local -n 6 --temp 0) &&
  [[ "$out" == "Thinking..."$'\n'*$'\n'"...done thinking." ]] && [ -z "$hidden" ] && [ -n "$off" ] &&
  [[ "$off" != *Thinking* ]] && [[ "$chat" == "Thinking..."* ]] &&
  grep -q "^capabilities: completion, thinking$" <<<"$("$H" show thinker)"
check "run shows a thinking model's reasoning (Thinking... / ...done thinking.), --hidethinking, --think=false; show lists its capabilities" $?
out=$(printf 'hi\n/set nothink\nhi\n' | "$H" run thinker --local -n 4 --temp 0 2>&1)
[ "$(echo "$out" | grep -c '^Thinking\.\.\.$')" -eq 1 ] && grep -q "^Set 'nothink' mode.$" <<<"$out"
check "run: /set nothink turns thinking off for the next turns" $?
# The slash commands of an interactive session, as `ollama run` has them.
out=$(printf '/show info\n/show system\n/set system Be brief.\n/show system\n/set parameter temperature -1\n/set parameter stop zzzq qqqz\n/show parameters\n/set verbose\nhi\n/frobnicate\n/?\n/bye\nnever sent\n' |
  "$H" run "$S/models/synth-qwen2-bpe32k-F16.gguf" -n 3 --temp 0 2>&1)
grep -q "^    architecture        qwen2$" <<<"$out" && grep -q "^No system message was specified for this model.$" <<<"$out" &&
  grep -q "^Be brief.$" <<<"$out" && grep -q "^Couldn't set parameter: temperature" <<<"$out" &&
  grep -q "^stop \[\"zzzq\",\"qqqz\"\]$" <<<"$out" && grep -q "^eval count:           3 token(s)$" <<<"$out" &&
  grep -q "^Unknown command '/frobnicate'. Type /? for help$" <<<"$out" && grep -q "^  /show           Show model information$" <<<"$out" &&
  [ "$(grep -c "^eval count:" <<<"$out")" -eq 1 ]
check "run: /show, /set system|parameter|verbose, /?, unknown commands are not sent, /bye ends the session" $?
# /save: a model of the session (the local store), with its system message, parameters and conversation.
out=$(printf '/set system Be kind.\n/set parameter top_k 7\nhi\n/save kind\n/bye\n' | "$H" run "$S/models/synth-qwen2-bpe32k-F16.gguf" -n 2 --temp 0 2>&1) &&
  mf=$("$H" show kind --modelfile) && grep -q "^Created new model 'kind'$" <<<"$out" && grep -q "^SYSTEM Be kind.$" <<<"$mf" &&
  grep -q "^PARAMETER top_k 7$" <<<"$mf" && grep -q "^MESSAGE user hi$" <<<"$mf" && grep -q "^MESSAGE assistant " <<<"$mf"
check "run: /save makes a store model of the session" $?
# /load in a local session: another model (a store model, a GGUF file) in a new conversation; what the
# user set carries over, a Modelfile's SYSTEM and PARAMETERs are its own model's; a failed /load keeps the session.
out=$(printf '/set parameter repeat_last_n 9\n/load no-such-model\n/load kind\n/show info\n/show system\n/show parameters\nhi\n/load %s\n/show info\n/show system\n/show parameters\n/bye\n' \
  "$S/models/synth-llama-spm512-F16.gguf" | "$H" run "$S/models/synth-qwen2-bpe32k-F16.gguf" -n 2 --temp 0 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -q "^Couldn't load 'no-such-model': .*neither a GGUF file nor a model in the store$" <<<"$out" &&
  grep -q "^Loading model 'kind'$" <<<"$out" && grep -q "^    architecture        qwen2$" <<<"$out" &&
  grep -q "^Be kind.$" <<<"$out" && [ "$(grep -c "^repeat_last_n 9$" <<<"$out")" -eq 2 ] &&
  grep -q "^    architecture        llama$" <<<"$out" && grep -q "^No system message was specified for this model.$" <<<"$out" &&
  [ "$(grep -c "^top_k 7$" <<<"$out")" -eq 1 ]  # (kind's parameter: not the user's, so not shown for the GGUF)
check "run: /load switches the local session to another model (store or file), keeping the user's settings" $?
out=$("$H" run "$S/models/aidreams260K.gguf" -p "I dream" -n 5 --temp 0 --verbose 2>&1 >/dev/null)
grep -q "^eval count:           5 token(s)$" <<<"$out" && grep -q "^prompt eval rate: " <<<"$out"
check "run --verbose prints the reply's timings" $?
out=$("$H" run "$S/models/synth-llama-spm512-F16.gguf" -p hi -n 2 --think 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "plain continuation" <<<"$out"; check "run --think on a plain continuation is an error" $?
out=$("$H" create "../evil" -f "$T/Modelfile" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "invalid model name" <<<"$out"; check "create rejects a name that would leave the store" $?
out=$("$H" show "$S/models/synth-qwen2-bpe32k-F16.gguf") && grep -q "^architecture: qwen2$" <<<"$out" &&
  grep -q "^capabilities: completion$" <<<"$out" && grep -q "^FROM .*synth-qwen2-bpe32k-F16.gguf$" <<<"$("$H" show "$S/models/synth-qwen2-bpe32k-F16.gguf" --modelfile)"
check "show describes a GGUF file outside the store" $?
unset HEARTH_HOME

# 9. bench: the JSON report carries the figures and they are plausible.
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 -r 2 -t 1 --json > "$T/bench.json"
python3 - "$T/bench.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["n_prompt"] == 16 and j["n_gen"] == 4 and j["threads"] == 1 and j["model_type"] == "Q4_0", j
for k in ("pp_tokens_per_s", "tg_tokens_per_s", "pp_min", "tg_max", "peak_rss_mib", "kv_cache_mib", "model_size_mib"):
    assert j[k] > 0, k
assert j["pp_min"] <= j["pp_tokens_per_s"] <= j["pp_max"], j
assert j["load_ms"] >= 0 and j["first_token_ms"] >= 0
# How the repacked weights reached huge pages (core/anon_memory.h): chosen by
# the time a fresh huge page took to commit, when the copy holds one.
way, fresh = j["huge_pages"], j["fresh_huge_page_ms"]
assert way in ("up_front", "collapsed", "advised", "none"), j
assert (way == "up_front") == (0 < fresh <= 2.0) or way == "none", j
assert way != "collapsed" or (fresh > 2.0 and j["huge_pages_ms"] >= 0), j
PY
check "bench --json reports pp/tg medians with spread, load time, peak RSS and the weights' pages" $?
"$H" bench --memory --json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["read_gb_per_s"] > 0.1'
check "bench --memory measures a read bandwidth" $?
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 0 -n 4 -r 2 -t 1 --bandwidth --json 2>/dev/null | python3 -c '
import json, os, sys
j = json.load(sys.stdin)
size = os.path.getsize(sys.argv[1])
assert j["pp_tokens_per_s"] == 0 and j["tg_tokens_per_s"] > 0, j
assert 0 < j["weight_bytes_per_token"] <= size, j  # no more than the file
assert j["read_gb_per_s"] > 0.1 and j["tg_bandwidth_fraction"] > 0, j
assert abs(j["tg_read_gb_per_s"] - j["tg_tokens_per_s"] * j["weight_bytes_per_token"] / 1e9) < 1e-6 * j["tg_read_gb_per_s"] + 1e-9, j
' "$S/models/synth-llama-spm512-Q4_0.gguf"
check "bench --bandwidth reports generation as a fraction of the read bandwidth beside it" $?
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 0 -n 4 -r 1 -t 1 --profile --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
rows = {r["phase"]: r for r in j["tg_profile"]}
assert len(rows) == 7, rows
assert abs(sum(r["share"] for r in rows.values()) - 1) < 1e-6
assert rows["FFN gate/up products"]["gb_per_s"] > 0 and rows["attention"]["gb_per_s"] == 0
assert all(r["ms_per_token"] > 0 for r in rows.values())
'
check "bench --profile splits generation time per token by phase" $?
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 32 -n 0 -r 2 -t 1 --profile --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert "tg_profile" not in j
rows = {r["phase"]: r for r in j["pp_profile"]}
assert len(rows) == 7, rows
assert abs(sum(r["share"] for r in rows.values()) - 1) < 1e-6
assert rows["FFN gate/up products"]["gmac_per_s"] > 0 and rows["attention"]["gmac_per_s"] > 0
assert rows["row ops (norms, RoPE, KV store, residual, SiLU)"]["gmac_per_s"] == 0
assert all(r["ms_per_token"] > 0 for r in rows.values())
'
check "bench --profile splits prompt time per token by phase, with multiply-add rates" $?
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 -d 200 -r 1 -t 1 --json > "$T/bench_d.json" &&
  "$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 -d 200 -r 1 -t 1 > "$T/bench_d.txt" &&
  grep -q "| tg4 @ d200 " "$T/bench_d.txt" && grep -q "| pp16 @ d200 " "$T/bench_d.txt" &&
  python3 - "$T/bench.json" "$T/bench_d.json" <<'PY'
import json, sys
a, d = (json.load(open(f)) for f in sys.argv[1:3])
assert a["n_depth"] == 0 and d["n_depth"] == 200, (a, d)
assert d["pp_tokens_per_s"] > 0 and d["tg_tokens_per_s"] > 0, d
# The cache holds the depth as well: 200 + 16 + 4 positions against 16 + 4.
assert abs(d["kv_cache_mib"] / a["kv_cache_mib"] - 220 / 20) < 1e-9, (a["kv_cache_mib"], d["kv_cache_mib"])
PY
check "bench -d runs the tests with that many tokens already in the cache" $?
"$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 -d 200 -r 1 -t 1 --kv-cache-type q8_0 --json > "$T/bench_q8.json" &&
  python3 - "$T/bench_d.json" "$T/bench_q8.json" <<'PY'
import json, sys
f, q = (json.load(open(f)) for f in sys.argv[1:3])
assert f["kv_type"] == "f16" and q["kv_type"] == "q8_0", (f["kv_type"], q["kv_type"])
assert q["tg_tokens_per_s"] > 0 and q["pp_tokens_per_s"] > 0, q
# Q8_0: 34 bytes per 32 values against 64.
assert abs(q["kv_cache_mib"] / f["kv_cache_mib"] - 34 / 64) < 1e-9, (f["kv_cache_mib"], q["kv_cache_mib"])
PY
check "bench --kv-cache-type q8_0 runs with a cache of 34/64 the bytes" $?
out=$("$H" run "$S/models/synth-llama-spm512-F16.gguf" --tokens 1,2,3 -n 4 --temp 0 --kv-cache-type q8_0 2>&1); rc=$?
[ $rc -eq 0 ] && [ -n "$out" ]; check "run --kv-cache-type q8_0 generates" $?
out=$("$H" run "$S/models/aidreams260K.gguf" --tokens 1,2,3 -n 4 --kv-cache-type q8_0 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "multiple of 32 values; this model.s have 16" <<<"$out"; check "run --kv-cache-type q8_0 refuses heads that are not whole blocks, naming the size" $?
out=$("$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 --kv-cache-type q4_1 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "q4_1 not in" <<<"$out"; check "bench rejects an unknown KV cache type" $?
out=$("$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 16 -n 4 -d 1010 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "d + p + n = 1030 exceeds the model's context (1024)" <<<"$out"; check "bench refuses d + p + n beyond the context" $?
out=$("$H" bench "$S/models/synth-llama-spm512-Q4_0.gguf" -p 60000 -n 1 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "exceeds the model's context" <<<"$out"; check "bench refuses p + n beyond the context" $?

# An encoder: synth --arch bert, then bench measures embedding speed.
"$H" synth --arch bert --dim 64 --layers 2 --heads 2 --ffn 128 --ctx 128 --vocab-from "$S/models/synth-bert-wordpiece-F16.gguf" "$T/bert.gguf" >/dev/null 2>&1 &&
  "$H" bench "$T/bert.gguf" -p 64 -r 2 -t 1 --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["architecture"] == "bert" and j["n_prompt"] == 64 and j["pp_tokens_per_s"] > 0 and j["tg_tokens_per_s"] == 0, j
' && grep -q "| embed64 " <<<"$("$H" bench "$T/bert.gguf" -p 64 -r 1 -t 1)"
check "synth --arch bert writes an encoder; bench reports its embedding speed" $?
out=$("$H" bench "$T/bert.gguf" -p 200 -r 1 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "p = 200 exceeds the model's context (128)" <<<"$out"; check "bench refuses an encoder input beyond its context" $?

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
