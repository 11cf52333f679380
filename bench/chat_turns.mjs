// Multi-turn chat benchmark for `hearth serve` (not a test): each turn's
// prompt is the previous prompt, its reply and ~80 tokens of new user text,
// sent to /v1/completions (streamed, temperature 0, 16 tokens); prints per
// turn the prompt tokens, the tokens taken from the prompt cache and the time
// to the first token. Compare `hearth serve --prompt-cache 0` with the default.
//   node bench/chat_turns.mjs http://127.0.0.1:11434 MODEL [turns=6]
const [base = 'http://127.0.0.1:11434', model = 'tiny-Q4_0', turnsArg = '6'] = process.argv.slice(2);
const turns = Number(turnsArg);
const words = 'the quick brown fox jumps over a lazy dog while seven small owls watch from old oak trees'.split(' ');
const user = (i) => Array.from({ length: 60 }, (_, k) => words[(i * 7 + k) % words.length]).join(' ');
let prompt = 'System: you are a helpful assistant. ' + Array.from({ length: 300 }, (_, k) => words[k % words.length]).join(' ');
const out = [];
for (let t = 0; t < turns; t++) {
  prompt += `\nUser: ${user(t)}\nAssistant:`;
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } }) });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  let ttft = null, text = '', usage = null, buf = '';
  for await (const chunk of r.body) {
    buf += Buffer.from(chunk).toString();
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const j = JSON.parse(line.slice(6));
      if (j.usage) usage = j.usage;
      for (const c of j.choices) { if (c.text && ttft === null) ttft = performance.now() - t0; text += c.text ?? ''; }
    }
  }
  prompt += text;
  out.push(`turn ${t}: prompt ${usage.prompt_tokens} tokens, cached ${usage.prompt_tokens_details?.cached_tokens ?? 0}, TTFT ${(ttft / 1000).toFixed(2)} s`);
}
console.log(out.join('\n'));
