// Load benchmark for `hearth serve` (not a test): N concurrent streamed
// /v1/completions requests, 64 tokens each at temperature 0.8; reports
// aggregate generated tokens/s, time to first token and latency percentiles.
//   node bench/serve_load.mjs http://127.0.0.1:11434 MODEL [1,4,8,16] [tokens=64] [rounds=2]
const [base = 'http://127.0.0.1:11434', model = 'tiny-Q4_0', levels = '1,4,8,16', tokensArg = '64', roundsArg = '2'] = process.argv.slice(2);
const tokens = Number(tokensArg), rounds = Number(roundsArg);

async function one(i) {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: `Request ${i}: write a short story about the number ${i}.`, max_tokens: tokens,
      temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true } }) });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  let ttft = null, generated = 0, buf = '';
  const dec = new TextDecoder();
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, k); buf = buf.slice(k + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (j.usage) generated = j.usage.completion_tokens;
      if (ttft === null && j.choices?.some((c) => c.text)) ttft = performance.now() - t0;
    }
  }
  return { ttft, latency: performance.now() - t0, generated };
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
console.log('| concurrent streams | aggregate generated t/s | p50 TTFT s | p90 TTFT s | p50 latency s | p99 latency s |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of levels.split(',').map(Number)) {
  await one(0);  // warm-up: model loaded
  const all = [];
  let gen = 0, wall = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: n }, (_, i) => one(r * 1000 + i)));
    wall += performance.now() - t0;
    for (const x of res) { all.push(x); gen += x.generated; }
  }
  const ttfts = all.map((x) => x.ttft / 1000), lats = all.map((x) => x.latency / 1000);
  console.log(`| ${n} | ${(gen / (wall / 1000)).toFixed(1)} | ${pct(ttfts, 0.5).toFixed(2)} | ${pct(ttfts, 0.9).toFixed(2)} | ${pct(lats, 0.5).toFixed(2)} | ${pct(lats, 0.99).toFixed(2)} |`);
}
