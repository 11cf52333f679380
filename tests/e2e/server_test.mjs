// End-to-end: the real `hearth serve`, driven by the official `openai` and
// `ollama` npm clients and plain fetch. Run by tests/e2e/CMakeLists.txt as
//   node --test tests/e2e/server_test.mjs   (HEARTH_BIN, HEARTH_SHARED set)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync, statfsSync, copyFileSync, truncateSync, statSync, mkdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import net from 'node:net';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import Anthropic from '@anthropic-ai/sdk';

const BIN = process.env.HEARTH_BIN;
const SHARED = process.env.HEARTH_SHARED || process.env.HEARTH_SHARED_FALLBACK;
assert.ok(BIN, 'HEARTH_BIN must point at the hearth binary');
assert.ok(SHARED, 'HEARTH_SHARED must point at the shared data');

// Every temporary directory the tests make, removed when they end.
const tempDirs = [];
function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

const modelsDir = tempDir('hearth-models-');
symlinkSync(join(SHARED, 'models/aidreams260K.gguf'), join(modelsDir, 'aidreams.gguf'));
symlinkSync(join(SHARED, 'models/synth-qwen2-bpe32k-F16.gguf'), join(modelsDir, 'qwen.gguf'));
symlinkSync(join(SHARED, 'models/synth-bert-wordpiece-F16.gguf'), join(modelsDir, 'bert.gguf'));
const ref = JSON.parse(readFileSync(join(SHARED, 'reference/aidreams260K.dream.json'), 'utf8'));
const DREAM = readFileSync(join(SHARED, 'prompts/dream.txt'), 'utf8');
const GREEDY = Buffer.from(ref.greedy_text_bytes_hex, 'hex').toString('utf8');

let nextPort = 20000 + Math.floor(Math.random() * 20000);

const storeHome = tempDir('hearth-home-');

async function startServer(extra = [], models = modelsDir, home = storeHome) {
  const port = nextPort++;
  const proc = spawn(BIN, ['serve', '--port', String(port), '--models', models, '--threads', '2', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HEARTH_HOME: home } });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/health`)).ok) return { proc, base, exited, log: () => log }; } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`server did not start: ${log}`);
}

let S;
before(async () => { S = await startServer(['--max-running', '16']); });
after(async () => {
  if (S.proc.exitCode === null) { S.proc.kill('SIGTERM'); await S.exited; }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

test('openai: models, completion (greedy = reference), chat, streaming with usage', async () => {
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'aidreams'));
  const c = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 64, temperature: 0 });
  assert.equal(c.choices[0].text, GREEDY);
  assert.equal(c.usage.prompt_tokens, ref.prompt_tokens.length);
  assert.equal(c.usage.completion_tokens, 64);
  assert.equal(c.choices[0].finish_reason, 'length');
  const chat = await client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, seed: 1 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(chat.usage.completion_tokens <= 8);
  const stream = await client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6,
    stream: true, stream_options: { include_usage: true }, seed: 3 });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) { text += ch.delta.content ?? ''; if (ch.finish_reason) finish = ch.finish_reason; }
  }
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 6);
  const lp = await client.chat.completions.create({ model: 'aidreams', messages: [{ role: 'user', content: 'x' }], max_tokens: 3,
    logprobs: true, top_logprobs: 2, temperature: 0 });
  assert.equal(lp.choices[0].logprobs.content.length, 3);
  assert.equal(lp.choices[0].logprobs.content[0].top_logprobs.length, 2);
  const n2 = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 4, n: 2, temperature: 0 });
  assert.equal(n2.choices.length, 2);
  assert.equal(n2.choices[0].text, n2.choices[1].text);
});

test('openai completions: a batch of prompts (text or token ids) gives a choice per prompt and n', async () => {
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const ids = execFileSync(BIN, ['tokenize', join(SHARED, 'models/aidreams260K.gguf'), DREAM, '--ids', '--add-special']).toString().trim().split(' ').map(Number);
  const c = await client.completions.create({ model: 'aidreams', prompt: [DREAM, ids, 'Once'], n: 2, max_tokens: 8, temperature: 0 });
  assert.equal(c.choices.length, 6);
  assert.deepEqual(c.choices.map((x) => x.index), [0, 1, 2, 3, 4, 5]);
  for (const k of [0, 1, 2, 3]) assert.equal(c.choices[k].text, GREEDY.slice(0, c.choices[k].text.length));
  assert.ok(c.choices[0].text.length > 0);
  const once = await client.completions.create({ model: 'aidreams', prompt: 'Once', max_tokens: 8, temperature: 0 });
  assert.equal(c.choices[4].text, once.choices[0].text);
  assert.equal(c.usage.prompt_tokens, 2 * ids.length + once.usage.prompt_tokens);
  const tok = await client.completions.create({ model: 'aidreams', prompt: ids, max_tokens: 8, temperature: 0 });
  assert.equal(tok.choices[0].text, c.choices[0].text);
  assert.equal(tok.usage.prompt_tokens, ids.length);
  const echoed = await client.completions.create({ model: 'aidreams', prompt: ['a', 'b'], echo: true, max_tokens: 1, temperature: 0 });
  assert.ok(echoed.choices[0].text.startsWith('a') && echoed.choices[1].text.startsWith('b'));
  for (const [body, re] of [[{ prompt: [ids], echo: true }, /echo/], [{ prompt: [[-1]] }, /token ids/], [{ prompt: [] }, /prompt/],
    [{ prompt: Array(33).fill('x'), n: 2 }, /at most 64/], [{ prompt: [[1e9]] }, /vocabulary/]])
    await assert.rejects(client.completions.create({ model: 'aidreams', max_tokens: 1, ...body }), (e) => e.status === 400 && re.test(e.message));
});

test('openai: errors are OpenAI-shaped', async () => {
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  await assert.rejects(client.completions.create({ model: 'no-such-model', prompt: 'x' }), (e) => e.status === 404);
  await assert.rejects(client.chat.completions.create({ model: 'aidreams', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
    (e) => e.status === 400 && /temperature/.test(e.message));
});

test('openai models.retrieve; ollama logprobs equal the OpenAI route\'s, whole and streamed', async () => {
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  assert.equal((await client.models.retrieve('aidreams')).id, 'aidreams');
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => e.status === 404 && e.code === 'model_not_found');
  const messages = [{ role: 'user', content: 'x' }];
  const o = await client.chat.completions.create({ model: 'aidreams', messages, max_tokens: 4, logprobs: true, top_logprobs: 3, temperature: 0 });
  const ollama = new Ollama({ host: S.base });
  const body = { model: 'aidreams', messages, stream: false, logprobs: true, top_logprobs: 3, options: { temperature: 0, num_predict: 4 } };
  const c = await (await fetch(`${S.base}/api/chat`, { method: 'POST', body: JSON.stringify(body) })).json();
  assert.equal(c.logprobs.length, 4);
  c.logprobs.forEach((lp, i) => {
    const want = o.choices[0].logprobs.content[i];
    assert.equal(lp.token, want.token);
    assert.ok(Math.abs(lp.logprob - want.logprob) < 1e-6);
    assert.deepEqual(lp.bytes, want.bytes);
    assert.deepEqual(lp.top_logprobs.map((t) => t.token), want.top_logprobs.map((t) => t.token));
    assert.equal(lp.top_logprobs[0].token, lp.token);  // greedy: the likeliest
  });
  const streamed = [];
  for await (const part of await ollama.chat({ ...body, stream: true })) streamed.push(...(part.logprobs ?? []));
  assert.deepEqual(streamed, c.logprobs);
  const g = await (await fetch(`${S.base}/api/generate`, { method: 'POST',
    body: JSON.stringify({ model: 'aidreams', prompt: DREAM, stream: false, logprobs: true, options: { temperature: 0, num_predict: 3 } }) })).json();
  assert.equal(g.logprobs.length, 3);
  assert.equal(g.logprobs[0].top_logprobs, undefined);
  const bad = await fetch(`${S.base}/api/chat`, { method: 'POST', body: JSON.stringify({ ...body, logprobs: false }) });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /top_logprobs requires logprobs/);
});

test('ollama: generate (greedy = reference), chat streaming, list, show, ps, version', async () => {
  const ollama = new Ollama({ host: S.base });
  const g = await ollama.generate({ model: 'aidreams', prompt: DREAM, stream: false, options: { temperature: 0, num_predict: 64 } });
  assert.equal(g.response, GREEDY);
  assert.equal(g.done, true);
  assert.equal(g.eval_count, 64);
  assert.ok(g.total_duration > 0);
  let parts = 0, last = null;
  for await (const part of await ollama.chat({ model: 'qwen', messages: [{ role: 'user', content: 'hello' }], stream: true, options: { num_predict: 5 } })) {
    parts++; last = part;
  }
  assert.ok(parts >= 2);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, 5);
  const list = await ollama.list();
  assert.ok(list.models.some((m) => m.name === 'aidreams:latest'));
  const show = await ollama.show({ model: 'qwen' });
  assert.equal(show.details.family, 'qwen2');
  const ps = await ollama.ps();
  assert.ok(ps.models.length >= 1);
  const v = await (await fetch(`${S.base}/api/version`)).json();
  assert.ok(v.version);
});

test('embeddings: BERT vectors match the reference (cosine >= 0.999) through both clients', async () => {
  const sentences = readFileSync(join(SHARED, 'prompts/sentences.txt'), 'utf8').split('\n').filter((l) => l.length > 0);
  const want = JSON.parse(readFileSync(join(SHARED, 'reference/synth-bert-wordpiece-F16.sentences.mean.json'), 'utf8')).data.map((d) => d.embedding);
  const cos = (a, b) => { let ab = 0, aa = 0, bb = 0; for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; } return ab / Math.sqrt(aa * bb); };
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const r = await client.embeddings.create({ model: 'bert', input: sentences });
  assert.equal(r.data.length, sentences.length);
  r.data.forEach((d, i) => assert.ok(cos(d.embedding, want[i]) >= 0.999, `sentence ${i}: ${cos(d.embedding, want[i])}`));
  assert.ok(r.usage.prompt_tokens > 0);
  const ollama = new Ollama({ host: S.base });
  const e = await ollama.embed({ model: 'bert', input: sentences });
  e.embeddings.forEach((v, i) => assert.ok(cos(v, want[i]) >= 0.999));
  const legacy = await ollama.embeddings({ model: 'bert', prompt: sentences[0] });
  assert.ok(cos(legacy.embedding, want[0]) >= 0.999);
  const dec = await ollama.embed({ model: 'aidreams', input: 'I dream' });  // decoders embed too
  assert.equal(dec.embeddings[0].length, 64);
  await assert.rejects(client.chat.completions.create({ model: 'bert', messages: [{ role: 'user', content: 'x' }] }), (err) => err.status === 400);
});

test('a long embedding batch runs beside a chat: the chat finishes while the batch is still running', async () => {
  // One input per scheduler step: 200 inputs of ~300 tokens take 200 steps,
  // a 6-token chat about 7. (All inputs were embedded in one step before: a
  // chat arriving during the batch waited for all of it.) The batch's tokens
  // are counted in hearth:prompt_tokens_total when it finishes.
  const bertTokens = async () => {
    const m = await (await fetch(`${S.base}/metrics`)).text();
    return Number(m.match(/^hearth:prompt_tokens_total\{model_name="bert"\} (\S+)$/m)?.[1] ?? 0);
  };
  const before = await bertTokens();
  const words = 'stars rain light code river stone cloud'.split(' ');
  const inputs = Array.from({ length: 200 }, (_, i) => Array.from({ length: 300 }, (_, k) => words[(i + k) % 7]).join(' ') + ` ${i}`);
  const embed = fetch(`${S.base}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'bert', input: inputs }) })
    .then(async (r) => ({ status: r.status, body: await r.json() }));
  // The batch is under way once the scheduler reports it running.
  for (let i = 0; i < 1000; i++) {
    const m = await (await fetch(`${S.base}/metrics`)).text();
    if (Number(m.match(/^hearth:num_requests_running (\S+)$/m)?.[1]) >= 1) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const c = await new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' }).completions
    .create({ model: 'aidreams', prompt: DREAM, max_tokens: 6, temperature: 0 });
  assert.equal(await bertTokens(), before, 'the chat waited for the embedding batch');
  assert.equal(c.choices[0].text, GREEDY.slice(0, c.choices[0].text.length));
  const e = await embed;
  assert.equal(e.status, 200);
  assert.equal(e.body.embeddings.length, inputs.length);
  assert.ok(await bertTokens() > before);
  const one = await (await fetch(`${S.base}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'bert', input: inputs[177] }) })).json();
  assert.deepEqual(e.body.embeddings[177], one.embeddings[0]);
  // A bad input anywhere fails the request before anything is embedded.
  const bad = await fetch(`${S.base}/api/embed`, { method: 'POST',
    body: JSON.stringify({ model: 'bert', input: ['fine', 'word '.repeat(600)], truncate: false }) });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /input\[1\] has \d+ tokens; the context is 512/);
});

test('a long prompt is tokenized beside the running requests: a completion finishes while it is', async () => {
  // 2 MiB without a space take the BPE tokenizer seconds; on the scheduler
  // thread that stalled every stream (8.7 s between two tokens for 8 MiB).
  // The request then fails (its tokens exceed the context), after the
  // completion that came in while it was tokenized.
  const waiting = async () => Number((await (await fetch(`${S.base}/metrics`)).text()).match(/^hearth:num_requests_waiting (\S+)$/m)?.[1]);
  await fetch(`${S.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'qwen', prompt: '' }) });  // loaded
  let longDone = false;
  const long = fetch(`${S.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'qwen', prompt: 'a'.repeat(2 << 20), stream: false }) })
    .then(async (r) => { longDone = true; return { status: r.status, body: await r.json() }; });
  for (let i = 0; i < 1000 && (await waiting()) < 1; i++) await new Promise((r) => setTimeout(r, 5));
  const c = await new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' }).completions
    .create({ model: 'aidreams', prompt: DREAM, max_tokens: 6, temperature: 0 });
  assert.equal(longDone, false, 'the completion waited for the long prompt to be tokenized');
  assert.equal(c.choices[0].text, GREEDY.slice(0, c.choices[0].text.length));
  const r = await long;
  assert.equal(r.status, 400);
  assert.match(r.body.error, /the prompt has \d+ tokens but the context is/);
});

test('ollama generate: a per-request template replaces the model\'s; a broken one is a 400 naming it', async () => {
  const ollama = new Ollama({ host: S.base });
  const g = await ollama.generate({ model: 'aidreams', prompt: DREAM, system: 'Night', template: '{{ .System }} {{ .Prompt }}',
    stream: false, options: { temperature: 0, num_predict: 8 } });
  const ids = execFileSync(BIN, ['tokenize', join(SHARED, 'models/aidreams260K.gguf'), `Night ${DREAM}`, '--ids', '--add-special']).toString().trim().split(' ');
  assert.equal(g.prompt_eval_count, ids.length);
  // The same text sent raw gives the same greedy tokens.
  const raw = await ollama.generate({ model: 'aidreams', prompt: `Night ${DREAM}`, raw: true, stream: false, options: { temperature: 0, num_predict: 8 } });
  assert.equal(g.response, raw.response);
  const bad = await fetch(`${S.base}/api/generate`, { method: 'POST',
    body: JSON.stringify({ model: 'aidreams', prompt: 'hi', template: '{{ if .Prompt }}no end' }) });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^template: /);
});

test('ollama generate: context returns the conversation\'s tokens and continues from them', async () => {
  const ollama = new Ollama({ host: S.base });
  const options = { temperature: 0, num_predict: 8 };
  const g1 = await ollama.generate({ model: 'aidreams', prompt: DREAM, stream: false, options });
  assert.equal(g1.context.length, g1.prompt_eval_count + g1.eval_count);
  const more = execFileSync(BIN, ['tokenize', join(SHARED, 'models/aidreams260K.gguf'), ' Then', '--ids']).toString().trim().split(' ');
  let last;
  for await (const part of await ollama.generate({ model: 'aidreams', prompt: ' Then', context: g1.context, stream: true, options })) last = part;
  assert.equal(last.prompt_eval_count, g1.context.length + more.length);
  assert.deepEqual(last.context.slice(0, g1.context.length), g1.context);
  // The same tokens sent as one prompt continue alike.
  const text = execFileSync(BIN, ['detokenize', join(SHARED, 'models/aidreams260K.gguf'), last.context.slice(0, last.prompt_eval_count).join(',')]).toString();
  assert.ok(text.startsWith(DREAM.trimEnd().slice(0, 20)));
  const raw = await ollama.generate({ model: 'aidreams', prompt: DREAM + g1.response + ' Then', raw: true, stream: false, options });
  assert.equal(typeof raw.context, 'undefined');  // raw mode returns none, as Ollama
  for (const bad of [[-1], [1e9], 'x']) {
    const r = await fetch(`${S.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'aidreams', prompt: 'a', context: bad, stream: false }) });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /context/);
  }
});

test('fill-in-the-middle: suffix is placed by a template that uses .Suffix; others answer 400 "does not support insert"', async () => {
  const ollama = new Ollama({ host: S.base });
  const opts = { temperature: 0, num_predict: 8 };
  const g = await ollama.generate({ model: 'aidreams', prompt: DREAM, suffix: 'END', template: '{{ .Prompt }}|{{ .Suffix }}', stream: false, options: opts });
  const raw = await ollama.generate({ model: 'aidreams', prompt: `${DREAM}|END`, raw: true, stream: false, options: opts });
  assert.equal(g.response, raw.response);
  assert.equal(g.prompt_eval_count, raw.prompt_eval_count);
  const post = (path, body) => fetch(`${S.base}${path}`, { method: 'POST', body: JSON.stringify(body) });
  for (const body of [{ model: 'aidreams', prompt: 'a', suffix: 'b', template: '{{ .Prompt }}' }, { model: 'aidreams', prompt: 'a', suffix: 'b' }]) {
    const bad = await post('/api/generate', { ...body, stream: false });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /does not support insert/);
  }
  const rawBad = await post('/api/generate', { model: 'aidreams', prompt: 'a', suffix: 'b', raw: true, stream: false });
  assert.equal(rawBad.status, 400);
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  await assert.rejects(client.completions.create({ model: 'aidreams', prompt: 'a', suffix: 'b', max_tokens: 4 }),
    (e) => e.status === 400 && /does not support insert/.test(e.message));
  // A store model whose TEMPLATE places the suffix: OpenAI completions with a
  // suffix go through it; without one the prompt is used as is.
  const modelfile = `FROM ${join(SHARED, 'models/aidreams260K.gguf')}\nTEMPLATE """{{ if .Suffix }}{{ .Prompt }}|{{ .Suffix }}{{ else }}{{ .Prompt }}{{ end }}"""\n`;
  assert.equal((await post('/api/create', { model: 'fim', modelfile, stream: false })).status, 200);
  const c = await client.completions.create({ model: 'fim', prompt: DREAM, suffix: 'END', max_tokens: 8, temperature: 0 });
  assert.equal(c.choices[0].text, raw.response);
  assert.equal(c.usage.prompt_tokens, raw.prompt_eval_count);
  const plain = await client.completions.create({ model: 'fim', prompt: DREAM, max_tokens: 8, temperature: 0 });
  assert.ok(GREEDY.startsWith(plain.choices[0].text));
  const del = await fetch(`${S.base}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'fim' }) });
  assert.equal(del.status, 200);
});

test('JSON mode: format "json" / a schema and response_format json_object / json_schema constrain the output; unsupported schema keywords answer 400', async () => {
  const ollama = new Ollama({ host: S.base });
  const g = await ollama.generate({ model: 'aidreams', prompt: DREAM, format: 'json', stream: false, options: { temperature: 0, num_predict: 48 } });
  assert.ok(!GREEDY.trimStart().startsWith('{'));
  assert.match(g.response, /^\s{0,2}\{/);
  let streamed = '';
  for await (const part of await ollama.chat({ model: 'qwen', messages: [{ role: 'user', content: 'hello' }], format: 'json', stream: true, options: { temperature: 0.8, seed: 3, num_predict: 12 } }))
    streamed += part.message.content;
  assert.match(streamed, /^\s{0,2}\{/);
  // The model pushed toward the token "{}": JSON mode ends after the object
  // (finish "stop", the text parses); without it the token repeats to the limit.
  const id = execFileSync(BIN, ['tokenize', join(SHARED, 'models/synth-qwen2-bpe32k-F16.gguf'), '{}', '--ids']).toString().trim();
  assert.match(id, /^\d+$/);
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const ask = (extra) => client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }],
    logit_bias: { [id]: 100 }, max_tokens: 48, temperature: 0, ...extra });
  const json = await ask({ response_format: { type: 'json_object' } });
  assert.equal(json.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(json.choices[0].message.content), {});
  const free = await ask({});
  assert.equal(free.choices[0].finish_reason, 'length');
  assert.ok(free.choices[0].message.content.startsWith('{}{}'));
  // A schema: the value matches it (enumerations and a boolean end it soon).
  const schema = { type: 'object', additionalProperties: false, required: ['name', 'ok'],
    properties: { name: { enum: ['Al', 'Bo'] }, ok: { type: 'boolean' } } };
  const check = (text) => {
    const v = JSON.parse(text);
    assert.ok(['Al', 'Bo'].includes(v.name), text);
    assert.equal(typeof v.ok, 'boolean', text);
    assert.deepEqual(Object.keys(v).sort(), ['name', 'ok'], text);
  };
  const gs = await ollama.generate({ model: 'aidreams', prompt: DREAM, format: schema, stream: false, options: { temperature: 0, num_predict: 400 } });
  assert.equal(gs.done_reason, 'stop');
  check(gs.response);
  const os = await ask({ logit_bias: {}, max_tokens: 400, response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } });
  assert.equal(os.choices[0].finish_reason, 'stop');
  check(os.choices[0].message.content);
  // pydantic's shape for a nested model and an Optional field: $defs, $ref, anyOf with null.
  const pydantic = { $defs: { Pet: { title: 'Pet', type: 'object', additionalProperties: false, required: ['kind'],
    properties: { kind: { enum: ['cat', 'dog'], title: 'Kind' } } } },
  title: 'Owner', type: 'object', additionalProperties: false, required: ['pet', 'ok'],
  properties: { pet: { anyOf: [{ $ref: '#/$defs/Pet' }, { type: 'null' }], default: null }, ok: { type: 'boolean' } } };
  const gp = await ollama.generate({ model: 'aidreams', prompt: DREAM, format: pydantic, stream: false, options: { temperature: 0, num_predict: 400 } });
  assert.equal(gp.done_reason, 'stop');
  const owner = JSON.parse(gp.response);
  assert.ok(owner.pet === null || ['cat', 'dog'].includes(owner.pet.kind), gp.response);
  assert.equal(typeof owner.ok, 'boolean', gp.response);
  await assert.rejects(ask({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'integer', multipleOf: 3 } } } }),
    (e) => e.status === 400 && /keyword 'multipleOf' is not supported/.test(e.message));
  await assert.rejects(ask({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '(?=a)' } } } }),
    (e) => e.status === 400 && /lookarounds/.test(e.message));
  for (const format of ['yaml', 3, { type: 'object', properties: { a: { anyOf: [] } } }]) {
    const bad = await fetch(`${S.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'aidreams', prompt: 'hi', format }) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /^format/);
  }
});

test('tool calls: a reply calling an offered tool comes back as tool_calls (OpenAI and Ollama, whole or streamed); other replies stay text', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const call = { name: 'get_weather', arguments: { city: 'Paris' } };
  // JSON mode pins the reply to the call a model would write (Llama 3's shape).
  const pin = { type: 'json_schema', json_schema: { name: 'call', schema: { const: call } } };
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const base = { model: 'qwen', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, max_tokens: 64, temperature: 0 };
  const r = await client.chat.completions.create({ ...base, response_format: pin });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.content, null);
  const tc = r.choices[0].message.tool_calls;
  assert.equal(tc.length, 1);
  assert.equal(tc[0].type, 'function');
  assert.match(tc[0].id, /^call/);
  assert.equal(tc[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc[0].function.arguments), { city: 'Paris' });
  let text = '';
  let finish = null;
  const deltas = [];
  for await (const chunk of await client.chat.completions.create({ ...base, response_format: pin, stream: true })) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    text += ch.delta?.content ?? '';
    if (ch.delta?.tool_calls) deltas.push(...ch.delta.tool_calls);
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(text, '');
  assert.equal(finish, 'tool_calls');
  assert.equal(deltas.length, 1);
  assert.equal(deltas[0].index, 0);
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(deltas[0].function.arguments), { city: 'Paris' });
  // The call answered, the conversation goes on (the template renders the call and its result).
  const next = await client.chat.completions.create({ ...base, max_tokens: 4,
    messages: [...base.messages, r.choices[0].message, { role: 'tool', tool_call_id: tc[0].id, content: '{"temperature": 18}' }] });
  assert.ok(['stop', 'length'].includes(next.choices[0].finish_reason));
  // A function the request did not offer is text.
  const other = await client.chat.completions.create({ ...base,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { const: { name: 'launch', arguments: {} } } } } });
  assert.equal(other.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(other.choices[0].message.content), { name: 'launch', arguments: {} });
  assert.equal(other.choices[0].message.tool_calls, undefined);
  // tool_choice: "none" leaves the reply text; a named function constrains the reply to a call of it.
  const none = await client.chat.completions.create({ ...base, response_format: pin, tool_choice: 'none' });
  assert.equal(none.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(none.choices[0].message.content), call);
  const pick = [{ type: 'function', function: { name: 'pick_city', parameters: { type: 'object', additionalProperties: false,
    required: ['city'], properties: { city: { enum: ['Oslo', 'Lima'] } } } } }, ...tools];
  const forced = await client.chat.completions.create({ ...base, tools: pick, tool_choice: { type: 'function', function: { name: 'pick_city' } } });
  assert.equal(forced.choices[0].finish_reason, 'tool_calls');
  assert.equal(forced.choices[0].message.tool_calls[0].function.name, 'pick_city');
  assert.ok(['Oslo', 'Lima'].includes(JSON.parse(forced.choices[0].message.tool_calls[0].function.arguments).city));
  const toggles = [{ type: 'function', function: { name: 'lamp', parameters: { type: 'object', additionalProperties: false, required: ['on'],
    properties: { on: { type: 'boolean' } } } } }, pick[0]];
  const required = await client.chat.completions.create({ ...base, tools: toggles, tool_choice: 'required' });
  assert.equal(required.choices[0].finish_reason, 'tool_calls');
  const rc = required.choices[0].message.tool_calls[0].function;
  const rargs = JSON.parse(rc.arguments);
  assert.ok(rc.name === 'lamp' ? typeof rargs.on === 'boolean' : ['Oslo', 'Lima'].includes(rargs.city), JSON.stringify(rc));
  await assert.rejects(client.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'nope' } } }),
    (e) => e.status === 400 && /not among the tools/.test(e.message));
  await assert.rejects(client.chat.completions.create({ ...base, tool_choice: 'required', response_format: pin }),
    (e) => e.status === 400 && /tool_choice/.test(e.message));
  const ollama = new Ollama({ host: S.base });
  const ask = { model: 'qwen', messages: base.messages, tools, format: { const: call }, options: { temperature: 0, num_predict: 64 } };
  const o = await ollama.chat({ ...ask, stream: false });
  assert.equal(o.message.content, '');
  assert.deepEqual(o.message.tool_calls, [{ function: call }]);
  assert.equal(o.done_reason, 'stop');
  const parts = [];
  for await (const part of await ollama.chat({ ...ask, stream: true })) parts.push(part);
  assert.deepEqual(parts.flatMap((p) => p.message.tool_calls ?? []), [{ function: call }]);
  assert.equal(parts.map((p) => p.message.content).join(''), '');
  assert.equal(parts.at(-1).done, true);
});

test('thinking: a model whose template has thinking tags returns its reasoning apart (Ollama think / thinking, OpenAI reasoning_effort / reasoning_content)', async () => {
  const ollama = new Ollama({ host: S.base });
  // A template that opens a <think> block at the end of the prompt when
  // thinking is on (as DeepSeek R1's do): the reply is reasoning until </think>.
  const tmpl = '{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}\n{{ end }}<|assistant|>{{ if .Think }}<think>\n{{ end }}';
  await ollama.create({ model: 'thinker', from: 'qwen', template: tmpl });
  assert.deepEqual((await ollama.show({ model: 'thinker' })).capabilities, ['completion', 'thinking']);
  assert.ok(!(await ollama.show({ model: 'qwen' })).capabilities.includes('thinking'));
  const options = { temperature: 0, num_predict: 12 };
  const messages = [{ role: 'user', content: 'hi' }];
  // On by default for a model that thinks; the reasoning is the text the raw prompt continues with.
  const c = await ollama.chat({ model: 'thinker', messages, stream: false, options });
  const raw = await ollama.generate({ model: 'thinker', prompt: '<|user|>hi\n<|assistant|><think>\n', raw: true, stream: false, options });
  assert.ok(!raw.response.includes('</think>'));
  assert.equal(c.message.content, '');
  assert.equal(c.message.thinking, raw.response.trim());
  assert.ok(c.message.thinking.length > 0);
  let streamed = '', content = '';
  for await (const part of await ollama.chat({ model: 'thinker', messages, think: true, stream: true, options })) {
    streamed += part.message.thinking ?? '';
    content += part.message.content;
  }
  assert.equal(streamed, c.message.thinking);
  assert.equal(content, '');
  // Off: the template leaves the block closed; all text is the answer.
  const off = await ollama.chat({ model: 'thinker', messages, think: false, stream: false, options });
  assert.equal(off.message.thinking, undefined);
  const rawOff = await ollama.generate({ model: 'thinker', prompt: '<|user|>hi\n<|assistant|>', raw: true, stream: false, options });
  assert.equal(off.message.content, rawOff.response);
  // generate: `thinking` beside `response`; a level turns thinking on.
  const g = await ollama.generate({ model: 'thinker', prompt: 'hi', think: 'high', stream: false, options });
  assert.equal(g.thinking, c.message.thinking);
  assert.equal(g.response, '');
  // An earlier turn's thinking reaches the template (.Thinking): the prompt grows by it.
  const turn2 = await ollama.chat({ model: 'thinker', stream: false, options: { ...options, num_predict: 1 },
    messages: [...messages, { role: 'assistant', content: 'ok', thinking: 'plan' }, { role: 'user', content: 'go' }] });
  const turn2bare = await ollama.chat({ model: 'thinker', stream: false, options: { ...options, num_predict: 1 },
    messages: [...messages, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'go' }] });
  assert.ok(turn2.prompt_eval_count > turn2bare.prompt_eval_count);
  // JSON mode: when the prompt opened the reasoning, the reasoning stays free (the answer would be JSON);
  // when it did not, the reply is JSON from its first token.
  const fj = await ollama.chat({ model: 'thinker', messages, format: 'json', stream: false, options });
  assert.equal(fj.message.thinking, c.message.thinking);
  assert.equal(fj.message.content, '');
  await ollama.create({ model: 'thinker2', from: 'qwen', template: tmpl.replace('{{ if .Think }}<think>\n{{ end }}', '') });
  assert.ok((await ollama.show({ model: 'thinker2' })).capabilities.includes('thinking'));
  const j2 = await ollama.chat({ model: 'thinker2', messages, format: 'json', stream: false, options });
  assert.match(j2.message.content, /^\s{0,2}\{/);
  assert.equal(j2.message.thinking, undefined);
  await ollama.delete({ model: 'thinker2' });
  // A model that does not think, and a bad value, are 400s.
  await assert.rejects(ollama.chat({ model: 'qwen', messages, think: true, stream: false }), /does not support thinking/);
  await assert.rejects(ollama.chat({ model: 'thinker', messages, think: 'max', stream: false }), /think must be/);

  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const o = await client.chat.completions.create({ model: 'thinker', messages, temperature: 0, max_tokens: 12 });
  assert.equal(o.choices[0].message.reasoning_content, c.message.thinking);
  assert.equal(o.choices[0].message.content, '');
  let reasoning = '';
  for await (const chunk of await client.chat.completions.create({ model: 'thinker', messages, temperature: 0, max_tokens: 12, stream: true }))
    for (const ch of chunk.choices) reasoning += ch.delta.reasoning_content ?? '';
  assert.equal(reasoning, c.message.thinking);
  const none = await client.chat.completions.create({ model: 'thinker', messages, temperature: 0, max_tokens: 12, reasoning_effort: 'none' });
  assert.equal(none.choices[0].message.reasoning_content, undefined);
  assert.equal(none.choices[0].message.content, off.message.content);
  const kw = await client.chat.completions.create({ model: 'thinker', messages, temperature: 0, max_tokens: 12,
    chat_template_kwargs: { enable_thinking: false } });
  assert.equal(kw.choices[0].message.content, off.message.content);
  await assert.rejects(client.chat.completions.create({ model: 'thinker', messages, reasoning_effort: 'lots' }),
    (e) => e.status === 400 && /reasoning_effort/.test(e.message));
  // Responses API: the reasoning as a reasoning item; reasoning.effort "none" turns it off.
  const resp = await client.responses.create({ model: 'thinker', input: 'hi', max_output_tokens: 12, temperature: 0 });
  assert.equal(resp.output[0].type, 'reasoning');
  assert.equal(resp.output[0].content[0].text, c.message.thinking);
  assert.equal(resp.usage.output_tokens_details.reasoning_tokens, 12);
  const plain = await client.responses.create({ model: 'thinker', input: 'hi', max_output_tokens: 12, temperature: 0, reasoning: { effort: 'none' } });
  assert.equal(plain.output_text, off.message.content);
  // Anthropic Messages: a thinking block, streamed as thinking_delta; thinking disabled: text only.
  const anthropic = new Anthropic({ baseURL: S.base, apiKey: 'unused' });
  const am = await anthropic.messages.create({ model: 'thinker', max_tokens: 12, temperature: 0, messages });
  assert.equal(am.content[0].type, 'thinking');
  assert.equal(am.content[0].thinking, c.message.thinking);
  const streamedThinking = await anthropic.messages.stream({ model: 'thinker', max_tokens: 12, temperature: 0, messages }).finalMessage();
  assert.equal(streamedThinking.content[0].thinking, c.message.thinking);
  const noThinking = await anthropic.messages.create({ model: 'thinker', max_tokens: 12, temperature: 0, messages, thinking: { type: 'disabled' } });
  assert.deepEqual(noThinking.content.map((b) => b.type), ['text']);
  assert.equal(noThinking.content[0].text, off.message.content);
  await ollama.delete({ model: 'thinker' });
});

test('openai responses: text (whole and streamed as typed events) equals the chat completion, function tools and their results, text.format; stateful requests answer 400', async () => {
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const chat = await client.chat.completions.create({ model: 'qwen', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
    max_tokens: 6, temperature: 0 });
  const r = await client.responses.create({ model: 'qwen', instructions: 'Be brief.', input: 'hi', max_output_tokens: 6, temperature: 0 });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.output_text, chat.choices[0].message.content);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.status, 'incomplete');
  assert.equal(r.incomplete_details.reason, 'max_output_tokens');
  assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(r.usage.output_tokens, 6);
  const it = await (await fetch(`${S.base}/v1/responses/input_tokens`, { method: 'POST',
    body: JSON.stringify({ model: 'qwen', instructions: 'Be brief.', input: 'hi' }) })).json();
  assert.deepEqual(it, { object: 'response.input_tokens', input_tokens: r.usage.input_tokens });
  const types = [];
  let deltas = '', final = null;
  for await (const ev of await client.responses.create({ model: 'qwen', instructions: 'Be brief.',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], max_output_tokens: 6, temperature: 0, stream: true })) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') deltas += ev.delta;
    if (ev.type === 'response.incomplete' || ev.type === 'response.completed') final = ev.response;
  }
  assert.equal(deltas, r.output_text);
  assert.deepEqual([types[0], types[1], types[2], types[3]], ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
  assert.equal(final.output[0].content[0].text, r.output_text);
  // A function tool, pinned by tool_choice; its result sent back as items.
  const tools = [{ type: 'function', name: 'pick_city', parameters: { type: 'object', additionalProperties: false, required: ['city'],
    properties: { city: { enum: ['Oslo', 'Lima'] } } } }];
  const called = await client.responses.create({ model: 'qwen', input: 'Where?', tools, tool_choice: { type: 'function', name: 'pick_city' },
    max_output_tokens: 32, temperature: 0 });
  const fc = called.output.find((o) => o.type === 'function_call');
  assert.equal(fc.name, 'pick_city');
  assert.match(fc.call_id, /^call_/);
  assert.ok(['Oslo', 'Lima'].includes(JSON.parse(fc.arguments).city));
  const next = await client.responses.create({ model: 'qwen', tools, max_output_tokens: 4, temperature: 0,
    input: [{ role: 'user', content: 'Where?' }, fc, { type: 'function_call_output', call_id: fc.call_id, output: '{"ok": true}' }] });
  assert.ok(next.usage.input_tokens > called.usage.input_tokens);
  // text.format: a JSON schema.
  const js = await client.responses.create({ model: 'qwen', input: 'a number', max_output_tokens: 16, temperature: 0,
    text: { format: { type: 'json_schema', name: 'n', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false } } } });
  if (js.status === 'completed') assert.equal(typeof JSON.parse(js.output_text).n, 'number');
  else assert.match(js.output_text, /^\s*\{/);
  for (const [extra, param] of [[{ previous_response_id: 'resp_x' }, /previous_response_id/], [{ tools: [{ type: 'web_search' }] }, /tools\[0\]\.type/],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:,' }] }] }, /input_image/]])
    await assert.rejects(client.responses.create({ model: 'qwen', input: 'hi', ...extra }), (e) => e.status === 400 && param.test(e.message));
});

test('anthropic messages: text (whole and streamed) equals the chat completion, stop_sequences, tools and tool results, errors in Anthropic\'s shape', async () => {
  const openai = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  const client = new Anthropic({ baseURL: S.base, apiKey: 'unused' });
  const chat = await openai.chat.completions.create({ model: 'aidreams', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
    max_tokens: 12, temperature: 0 });
  const full = chat.choices[0].message.content;
  const base = { model: 'aidreams', system: 'Be brief.', max_tokens: 12, temperature: 0, messages: [{ role: 'user', content: 'hi' }] };
  const m = await client.messages.create(base);
  assert.equal(m.type, 'message');
  assert.match(m.id, /^msg_/);
  assert.equal(m.role, 'assistant');
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, full);
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(m.usage.output_tokens, 12);
  const counted = await client.messages.countTokens({ model: 'aidreams', system: 'Be brief.', messages: base.messages });
  assert.equal(counted.input_tokens, m.usage.input_tokens);
  const events = [];
  const stream = client.messages.stream(base);
  stream.on('streamEvent', (e) => events.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, full);
  assert.equal(final.stop_reason, 'max_tokens');
  assert.equal(final.usage.output_tokens, 12);
  assert.deepEqual([events[0], events[1], events.at(-3), events.at(-2), events.at(-1)],
    ['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
  // A stop sequence ends the text before it, and is named.
  const q = { ...base, model: 'qwen', max_tokens: 16 };
  const qfull = (await client.messages.create(q)).content[0].text;
  // (a piece of the text before any U+FFFD: the reply is random, its bytes need not be whole UTF-8)
  const clean = qfull.split('\ufffd')[0];
  let at = 3;
  while (at + 2 <= clean.length && clean.indexOf(clean.slice(at, at + 2)) !== at) at++;
  const stop = clean.slice(at, at + 2);
  assert.ok(at + 2 <= clean.length && !/[\ud800-\udfff]/.test(clean), qfull);
  const stopped = await client.messages.create({ ...q, stop_sequences: [stop] });
  assert.equal(stopped.stop_reason, 'stop_sequence');
  assert.equal(stopped.stop_sequence, stop);
  assert.equal(stopped.content[0].text, qfull.slice(0, at));
  // Tools: a forced tool_use, then its result sent back.
  const tools = [{ name: 'pick_city', description: 'Pick a city', input_schema: { type: 'object', additionalProperties: false, required: ['city'],
    properties: { city: { enum: ['Oslo', 'Lima'] } } } }];
  const used = await client.messages.create({ model: 'qwen', max_tokens: 32, temperature: 0, tools, tool_choice: { type: 'tool', name: 'pick_city' },
    messages: [{ role: 'user', content: 'Where?' }] });
  assert.equal(used.stop_reason, 'tool_use');
  const tu = used.content.find((b) => b.type === 'tool_use');
  assert.equal(tu.name, 'pick_city');
  assert.match(tu.id, /^toolu_/);
  assert.ok(['Oslo', 'Lima'].includes(tu.input.city));
  const next = await client.messages.create({ model: 'qwen', max_tokens: 4, temperature: 0, tools, messages: [
    { role: 'user', content: 'Where?' }, { role: 'assistant', content: used.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'ok' }, { type: 'text', text: 'thanks' }] }] });
  assert.ok(next.usage.input_tokens > used.usage.input_tokens);
  // Errors: Anthropic's shape.
  await assert.rejects(client.messages.create({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }] }),
    (e) => e.status === 400 && e.error.type === 'error' && e.error.error.type === 'invalid_request_error' && /image/.test(e.error.error.message));
  const missing = await fetch(`${S.base}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'aidreams', messages: base.messages }) });
  assert.equal(missing.status, 400);
  assert.match((await missing.json()).error.message, /max_tokens is required/);
  await assert.rejects(client.messages.create({ ...base, model: 'no-such-model' }), (e) => e.status === 404 && e.error.error.type === 'not_found_error');
});

test('model store: create with SYSTEM/TEMPLATE/PARAMETERs, show, generate uses them, cp then rm keeps the blob, last rm frees it', async () => {
  const post = async (path, body, method = 'POST') => fetch(`${S.base}${path}`, { method, body: JSON.stringify(body) });
  const modelfile = `FROM ${join(SHARED, 'models/aidreams260K.gguf')}\nSYSTEM """Night"""\nTEMPLATE """{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}"""\nPARAMETER temperature 0\nPARAMETER num_predict 64\n`;
  let r = await post('/api/create', { model: 'team/dreamer:v1', modelfile, stream: true });
  assert.equal(r.status, 200);
  const statuses = (await r.text()).trim().split('\n').map((l) => JSON.parse(l).status);
  assert.equal(statuses.at(-1), 'success');
  const ollama = new Ollama({ host: S.base });
  const show = await ollama.show({ model: 'team/dreamer:v1' });
  assert.equal(show.system, 'Night');
  assert.match(show.template, /\.System/);
  assert.match(show.parameters, /temperature 0/);
  // The template's output is what the model sees: "Night I dream" (+ BOS).
  const g = await ollama.generate({ model: 'team/dreamer:v1', prompt: DREAM, stream: false });
  const ids = execFileSync(BIN, ['tokenize', join(SHARED, 'models/aidreams260K.gguf'), `Night ${DREAM}`, '--ids', '--add-special']).toString().trim().split(' ');
  assert.equal(g.prompt_eval_count, ids.length);
  assert.equal(g.eval_count, 64);  // num_predict from the Modelfile
  // Without a SYSTEM the same template gives the plain prompt: temperature 0 from the Modelfile is the greedy text.
  r = await post('/api/create', { model: 'plain', modelfile: `FROM team/dreamer:v1\nSYSTEM ""\n` });
  assert.equal(r.status, 200);
  assert.match(await r.text(), /success/);
  assert.equal((await ollama.generate({ model: 'plain', prompt: DREAM, stream: false })).response, GREEDY);
  // Request options override Modelfile parameters.
  assert.equal((await ollama.generate({ model: 'plain', prompt: DREAM, stream: false, options: { num_predict: 3 } })).eval_count, 3);
  const blobs = () => readdirSync(join(storeHome, 'blobs')).filter((f) => f.startsWith('sha256-')).length;
  assert.equal(blobs(), 1);
  assert.equal((await post('/api/copy', { source: 'team/dreamer:v1', destination: 'copy' })).status, 200);
  assert.equal((await post('/api/delete', { model: 'team/dreamer:v1' }, 'DELETE')).status, 200);
  assert.equal((await ollama.generate({ model: 'copy', prompt: DREAM, stream: false })).eval_count, 64);
  assert.equal(blobs(), 1);
  const tags = await ollama.list();
  assert.ok(tags.models.some((m) => m.name === 'copy:latest'));
  const client = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
  assert.ok((await client.models.list()).data.some((m) => m.id === 'copy:latest'));
  for (const m of ['copy', 'plain']) assert.equal((await post('/api/delete', { model: m }, 'DELETE')).status, 200);
  assert.equal(blobs(), 0);
  assert.equal((await post('/api/delete', { model: 'copy' }, 'DELETE')).status, 404);
  assert.equal((await post('/api/create', { model: '../../evil', modelfile: modelfile })).status, 400);
});

test('blobs: a model uploaded (chunked or with a length; digest-checked; refused when the disk cannot hold it), HEAD, then created from files as the ollama CLI does', async () => {
  const data = readFileSync(join(SHARED, 'models/synth-llama-spm512-Q4_0.gguf'));
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const head = async (d) => (await fetch(`${S.base}/api/blobs/${d}`, { method: 'HEAD' })).status;
  assert.equal(await head(digest), 404);
  // Streamed in pieces, as Go's and httpx's clients send a file (chunked transfer encoding).
  const body = new ReadableStream({ start(c) { for (let i = 0; i < data.length; i += 100000) c.enqueue(data.subarray(i, i + 100000)); c.close(); } });
  const up = await fetch(`${S.base}/api/blobs/${digest}`, { method: 'POST', body, duplex: 'half' });
  assert.equal(up.status, 201);
  assert.equal(await head(digest), 200);
  const wrong = 'sha256:' + createHash('sha256').update('other').digest('hex');
  const bad = await fetch(`${S.base}/api/blobs/${wrong}`, { method: 'POST', body: data });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /digest mismatch/);
  assert.equal(await head(wrong), 404);
  assert.equal((await fetch(`${S.base}/api/blobs/sha256:xyz`, { method: 'POST', body: 'x' })).status, 400);
  // A length the store's disk cannot hold is refused from the head: 507, no 100 Continue, nothing written.
  const huge = 2 ** 40;  // (the largest upload the server takes)
  const fsInfo = statfsSync(join(storeHome, 'blobs'));
  if (fsInfo.bavail * fsInfo.bsize < huge) {
    const answer = await new Promise((resolve, reject) => {
      let got = '';
      const sock = net.connect(Number(new URL(S.base).port), '127.0.0.1', () => sock.write(
        `POST /api/blobs/${wrong} HTTP/1.1\r\nHost: x\r\nContent-Length: ${huge}\r\nExpect: 100-continue\r\n\r\n`));
      sock.on('data', (d) => { got += d; });
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 507 /, answer);
    assert.match(answer, /not enough disk space for the model store/);
    assert.ok(!readdirSync(join(storeHome, 'blobs')).some((f) => f.startsWith('.upload-')));
  }
  const create = (b) => fetch(`${S.base}/api/create`, { method: 'POST', body: JSON.stringify({ stream: false, ...b }) });
  const made = await create({ model: 'uploaded', files: { 'model.gguf': digest }, system: 'Be brief.', license: ['MIT'],
    messages: [{ role: 'user', content: 'hello' }], parameters: { temperature: 0, stop: ['a', 'b'] } });
  assert.equal(made.status, 200, await made.clone().text());
  const ollama = new Ollama({ host: S.base });
  const shown = await ollama.show({ model: 'uploaded' });
  assert.equal(shown.system, 'Be brief.');
  assert.equal(shown.license, 'MIT');
  assert.match(shown.parameters, /temperature 0/);
  assert.deepEqual(shown.messages, [{ role: 'user', content: 'hello' }]);
  const g = await ollama.generate({ model: 'uploaded', prompt: 'hi', stream: false, options: { num_predict: 3 } });
  assert.equal(g.eval_count, 3);
  // The MESSAGEs open every chat with the model (as Ollama): the same prompt as sending them.
  assert.equal((await create({ model: 'nomsg', files: { 'model.gguf': digest }, system: 'Be brief.' })).status, 200);
  const promptTokens = async (model, messages) =>
    (await ollama.chat({ model, messages, stream: false, options: { num_predict: 1 } })).prompt_eval_count;
  const hi = { role: 'user', content: 'hi' };
  assert.equal(await promptTokens('uploaded', [hi]), await promptTokens('nomsg', [{ role: 'user', content: 'hello' }, hi]));
  assert.ok(await promptTokens('uploaded', [hi]) > await promptTokens('nomsg', [hi]));
  await ollama.delete({ model: 'nomsg' });
  const missing = await create({ model: 'x', files: { 'm.gguf': wrong } });
  assert.equal(missing.status, 400);
  assert.match((await missing.json()).error, /not found; upload it first/);
  const inject = await create({ model: 'x', from: 'uploaded', parameters: { temperature: '0\nADAPTER /etc/passwd' } });
  assert.equal(inject.status, 400);
  await ollama.delete({ model: 'uploaded' });
  assert.equal(await head(digest), 404);  // no model uses it any more
});

test('kill -9 during create leaves a store that lists and serves every completed model', async () => {
  const home = tempDir('hearth-kill-');
  const mf = join(home, 'Modelfile');
  writeFileSync(mf, `FROM ${join(SHARED, 'models/synth-qwen2-bpe32k-F16.gguf')}\n`);
  execFileSync(BIN, ['create', 'done', '-f', mf], { env: { ...process.env, HEARTH_HOME: home }, stdio: 'ignore' });
  for (const delay of [0, 2, 5, 10, 20]) {
    const p = spawn(BIN, ['create', `maybe${delay}`, '-f', mf], { env: { ...process.env, HEARTH_HOME: home }, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, delay));
    p.kill('SIGKILL');
    await new Promise((r) => p.on('exit', r));
  }
  const list = execFileSync(BIN, ['list'], { env: { ...process.env, HEARTH_HOME: home } }).toString();
  assert.match(list, /done:latest/);
  const names = list.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
  for (const n of names) {
    const out = execFileSync(BIN, ['show', n], { env: { ...process.env, HEARTH_HOME: home } }).toString();
    const blob = /blob: (sha256-[0-9a-f]+)/.exec(out)[1];
    assert.ok(existsSync(join(home, 'blobs', blob)), `${n} names a missing blob`);
  }
});

test('pull from and push to another server (digest-verified blobs), ps and stop through the CLI', async () => {
  const post = (path, body) => fetch(`${S.base}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const r = await post('/api/create', { model: 'shared/dream:v2', modelfile: `FROM ${join(SHARED, 'models/aidreams260K.gguf')}\nPARAMETER temperature 0\n` });
  assert.match(await r.text(), /success/);
  const home = tempDir('hearth-pull-');
  const env = { ...process.env, HEARTH_HOME: home, HEARTH_HOST: S.base.replace('http://', '') };
  execFileSync(BIN, ['pull', `${S.base}/shared/dream:v2`], { env, stdio: 'ignore' });
  const shown = execFileSync(BIN, ['show', 'shared/dream:v2'], { env }).toString();
  assert.match(shown, /temperature/);
  const pulled = execFileSync(BIN, ['run', 'shared/dream:v2', '-p', DREAM, '-n', '64'], { env }).toString();
  assert.equal(pulled, GREEDY);
  // A blob that does not match its digest is refused.
  const bad = await fetch(`${S.base}/api/blobs/sha256-${'0'.repeat(64)}`);
  assert.equal(bad.status, 404);
  // With a server running, `hearth run NAME` goes through it (aidreams lives only in the server's models dir).
  const viaServer = execFileSync(BIN, ['run', 'aidreams', '-p', DREAM, '-n', '64', '--temp', '0', '--keepalive', '3h'], { env }).toString();
  assert.equal(viaServer, GREEDY);
  assert.match(execFileSync(BIN, ['ps'], { env }).toString(), /^aidreams:latest .* [23] hours from now$/m);  // (--keepalive 3h)
  assert.match(execFileSync(BIN, ['show', 'aidreams'], { env }).toString(), /^architecture: llama$/m);  // (the server's model)
  // ... and so does an interactive session, with `ollama run`'s slash commands.
  const session = spawnSync(BIN, ['run', 'aidreams', '-n', '4', '--temp', '0'],
    { env, input: '/show info\n/set parameter num_ctx 128\n/set parameter top_k x\n/set verbose\nI dream\n/nope\n' +
      '/set system Be brief.\n/save session-saved\n/load qwen\n/show info\n/bye\n' });
  const said = session.stdout.toString(), noted = session.stderr.toString();
  assert.equal(session.status, 0, noted);
  assert.match(said, /^ {4}architecture {8}llama$/m);
  assert.match(said, /^ {4}context length {6}\d+$/m);
  assert.match(noted, /Set parameter 'num_ctx' to '128'/);
  assert.match(noted, /Couldn't set parameter: .*top_k/);
  assert.match(noted, /^eval count: +4 token\(s\)$/m);
  assert.match(noted, /^load duration: +0µs$/m);  // (loaded by the run above)
  assert.match(noted, /Unknown command '\/nope'/);
  // /save made a model of the session (its system message, parameters, the conversation); /load switched models.
  assert.match(noted, /Created new model 'session-saved'/);
  const saved = await new Ollama({ host: S.base }).show({ model: 'session-saved' });
  assert.equal(saved.system, 'Be brief.');
  assert.match(saved.parameters, /num_ctx 128/);
  assert.equal(saved.messages[0].content, 'I dream');
  assert.equal(saved.messages[1].role, 'assistant');
  assert.match(noted, /Loading model 'qwen'/);
  assert.match(said, /^ {4}architecture {8}qwen2$/m);
  await new Ollama({ host: S.base }).delete({ model: 'session-saved' });
  // ps / stop talk to the running server.
  await new Ollama({ host: S.base }).generate({ model: 'aidreams', prompt: 'I', stream: false, keep_alive: '10m', options: { num_predict: 1 } });
  assert.match(execFileSync(BIN, ['ps'], { env }).toString(), /^aidreams:latest .* (9|10) minutes from now$/m);
  execFileSync(BIN, ['stop', 'aidreams'], { env });
  assert.doesNotMatch(execFileSync(BIN, ['ps'], { env }).toString(), /aidreams:latest/);
  // push: to a second server, which gets the blob (uploaded) and the model created from it with its settings.
  const B = await startServer([], tempDir('hearth-empty-models-'), tempDir('hearth-home-b-'));
  try {
    const pushed = await (await post('/api/push', { model: `${B.base}/shared/dream:v2` })).text();
    assert.match(pushed, /pushing sha256-[0-9a-f]{64}/);
    assert.match(pushed, /success/);
    const b = new Ollama({ host: B.base });
    const g = await b.generate({ model: 'shared/dream:v2', prompt: DREAM, stream: false, options: { num_predict: 64 } });
    assert.equal(g.response, GREEDY);  // temperature 0 came along
    assert.match(await (await post('/api/push', { model: `${B.base}/shared/dream:v2` })).text(), /using existing/);
    // A models-directory file, and from the CLI a GGUF under another name.
    assert.match(await (await post('/api/push', { model: `${B.base}/aidreams`, stream: false })).text(), /success/);
    execFileSync(BIN, ['push', `${B.base}/cli:v1`, '--from', join(SHARED, 'models/aidreams260K.gguf')], { env, stdio: 'ignore' });
    const names = (await b.list()).models.map((m) => m.name).sort();
    assert.deepEqual(names, ['aidreams:latest', 'cli:v1', 'shared/dream:v2']);
    const down = await post('/api/push', { model: 'http://127.0.0.1:1/aidreams', stream: false });
    assert.equal(down.status, 503);
    assert.match((await down.json()).error, /cannot reach 127\.0\.0\.1:1/);
  } finally {
    B.proc.kill('SIGTERM');
    await B.exited;
  }
  assert.equal((await fetch(`${S.base}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'shared/dream:v2' }) })).status, 200);
});

test('batching is exact: 16 concurrent greedy requests equal each request alone', async () => {
  const prompts = Array.from({ length: 16 }, (_, i) => `I dream of ${['stars', 'code', 'rain', 'light'][i % 4]} ${i}`);
  const one = async (p) => {
    const r = await fetch(`${S.base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aidreams', prompt: p, max_tokens: 24, temperature: 0 }) });
    return (await r.json()).choices[0].text;
  };
  const alone = [];
  for (const p of prompts) alone.push(await one(p));
  const together = await Promise.all(prompts.map(one));
  assert.deepEqual(together, alone);
});

test('malformed requests answer 400/413 and the server stays healthy', async () => {
  const post = (path, body, headers = { 'content-type': 'application/json' }) => fetch(`${S.base}${path}`, { method: 'POST', headers, body });
  let r = await post('/v1/chat/completions', '{not json');
  assert.equal(r.status, 400);
  r = await post('/v1/chat/completions', JSON.stringify({ model: 'aidreams', messages: 'hi' }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /messages/);
  r = await post('/api/generate', JSON.stringify({ model: 'aidreams', prompt: 'x', options: { num_predict: -5 } }));
  assert.equal(r.status, 400);
  r = await post('/v1/completions', JSON.stringify({ model: 'aidreams', prompt: 'x', max_tokens: 1e12 }));
  assert.equal(r.status, 400);
  r = await post('/api/generate', Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
  assert.equal(r.status, 400);
  r = await post('/api/generate', 'x'.repeat(17 << 20));
  assert.equal(r.status, 413);
  r = await post('/api/generate', JSON.stringify({ model: '../../etc/passwd', prompt: 'x' }));
  assert.equal(r.status, 400);
  // Deep nesting: a 50000-level schema in `format` (its copy recursed once per
  // level and overflowed the stack), a Go template whose action nests 50000
  // parentheses. Refused by name; the server lives on.
  const deep = '{"type":"array","items":'.repeat(50000) + '{}' + '}'.repeat(50000);
  r = await post('/api/chat', `{"model":"aidreams","format":${deep},"messages":[{"role":"user","content":"x"}]}`);
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /nest deeper than 512 levels/);
  r = await post('/api/generate', JSON.stringify({ model: 'aidreams', prompt: 'x', template: `{{ ${'('.repeat(50000)}1${')'.repeat(50000)} }}` }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /nests deeper than 100/);
  // The newer routes' bodies: wrong shapes are 400s naming the field.
  for (const [path, body, field] of [
    ['/v1/messages', { model: 'aidreams', max_tokens: null, messages: [{ role: 'user', content: 'x' }] }, /max_tokens/],
    ['/v1/messages', { model: 'aidreams', max_tokens: 4, messages: 'x' }, /messages/],
    ['/v1/messages', { model: 'aidreams', max_tokens: 4, messages: [{ role: 'user', content: [1] }] }, /messages\[0\]\.content\[0\]/],
    ['/v1/messages', { model: 'aidreams', max_tokens: 4, messages: [{ role: 'system', content: 'x' }] }, /role/],
    ['/v1/messages', { model: 'aidreams', max_tokens: 4, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'some' } }, /tool_choice/],
    ['/v1/responses', { model: 'aidreams', input: 5 }, /input/],
    ['/v1/responses', { model: 'aidreams', input: [{ type: 'function_call', name: 'f' }] }, /call_id/],
    ['/v1/responses', { model: 'aidreams', input: 'x', text: { format: { type: 'xml' } } }, /text\.format/],
    ['/v1/chat/completions', { model: 'aidreams', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 3 }, /reasoning_effort/],
    ['/v1/chat/completions', { model: 'aidreams', messages: [{ role: 'user', content: 'x' }], chat_template_kwargs: { messages: [] } }, /chat_template_kwargs/],
    ['/api/create', { model: 'x', files: { 'a.gguf': 5 } }, /files/],
    ['/api/create', { model: 'x', from: 'aidreams', files: { 'a.gguf': 'sha256:' + '0'.repeat(64) } }, /files/],
    ['/api/generate', { model: 'aidreams', prompt: 'x', context: [1, 'a'] }, /context/],
    ['/api/chat', { model: 'aidreams', messages: [{ role: 'user', content: 'x' }], top_logprobs: 99, logprobs: true }, /top_logprobs/],
  ]) {
    const res = await post(path, JSON.stringify(body));
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.match(JSON.stringify(await res.json()), field, path);
  }
  // Chunked bodies: over the limit (no length to check up front) → 413; a broken chunk size → 400.
  const big = new ReadableStream({ start(c) { for (let i = 0; i < 18; i++) c.enqueue(new Uint8Array(1 << 20)); c.close(); } });
  r = await fetch(`${S.base}/api/generate`, { method: 'POST', body: big, duplex: 'half' });
  assert.equal(r.status, 413);
  const raw = (text) => new Promise((resolve) => {
    const sock = net.connect(Number(new URL(S.base).port), '127.0.0.1', () => sock.end(text));
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('close', () => resolve(got));
  });
  assert.match(await raw('POST /api/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'), /^HTTP\/1\.1 400/);
  assert.match(await raw('POST /api/blobs/sha256:' + '0'.repeat(64) + ' HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nq\r\n'), /^HTTP\/1\.1 400/);
  assert.match(await raw('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n'), /^HTTP\/1\.1 413/);
  assert.equal((await fetch(`${S.base}/health`)).status, 200);
});

test('keep_alive 0 unloads the model after the request; /api/ps shows what is loaded', async () => {
  const ollama = new Ollama({ host: S.base });
  await ollama.generate({ model: 'aidreams', prompt: 'I', stream: false, keep_alive: '10m', options: { num_predict: 1 } });
  assert.ok((await ollama.ps()).models.some((m) => m.name === 'aidreams:latest'));
  await ollama.generate({ model: 'aidreams', prompt: 'I', stream: false, keep_alive: 0, options: { num_predict: 1 } });
  let present = true;
  for (let i = 0; i < 40 && present; i++) {
    await new Promise((r) => setTimeout(r, 50));
    present = (await ollama.ps()).models.some((m) => m.name === 'aidreams:latest');
  }
  assert.equal(present, false);
  // Embedding requests too, small (prepared at admission) or large (on the preparer thread).
  for (const input of ['stars', 'stars and rain '.repeat(2000)]) {
    await ollama.embed({ model: 'bert', input, keep_alive: '10m' });
    const expiry = (await ollama.ps()).models.find((m) => m.name === 'bert:latest')?.expires_at;
    assert.ok(new Date(expiry) - Date.now() > 5 * 60e3, `keep_alive 10m: expires ${expiry}`);
    await ollama.embed({ model: 'bert', input, keep_alive: 0 });
    present = true;
    for (let i = 0; i < 40 && present; i++) {
      await new Promise((r) => setTimeout(r, 50));
      present = (await ollama.ps()).models.some((m) => m.name === 'bert:latest');
    }
    assert.equal(present, false, `keep_alive 0 after an embedding of ${input.length} bytes`);
  }
});

test('cancellation frees the sequence', async () => {
  const ctrl = new AbortController();
  const r = await fetch(`${S.base}/api/generate`, { method: 'POST', signal: ctrl.signal,
    body: JSON.stringify({ model: 'qwen', prompt: 'tell me a long story', options: { num_predict: 100000, num_ctx: 512 } }) });
  const reader = r.body.getReader();
  await reader.read();
  ctrl.abort();
  let running = -1;
  for (let i = 0; i < 100 && running !== 0; i++) {
    await new Promise((res) => setTimeout(res, 50));
    const m = await (await fetch(`${S.base}/metrics`)).text();
    running = Number(/^hearth:num_requests_running (\S+)$/m.exec(m)[1]);
  }
  assert.equal(running, 0);
});

test('queue overflow answers 503 with Retry-After', async () => {
  const T = await startServer(['--max-running', '1', '--max-queue', '1']);
  try {
    const body = JSON.stringify({ model: 'qwen', prompt: 'go', stream: false, options: { num_predict: 200, num_ctx: 512 } });
    const results = await Promise.all(Array.from({ length: 6 }, () => fetch(`${T.base}/api/generate`, { method: 'POST', body })));
    const codes = results.map((r) => r.status);
    assert.ok(codes.includes(503), `codes: ${codes}`);
    assert.ok(codes.includes(200));
    assert.ok(results.find((r) => r.status === 503).headers.get('retry-after'));
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
});

test('--batch-tokens: prompts prefilled 3 tokens per pass, beside other streams, give the greedy reference', async () => {
  assert.ok(ref.prompt_tokens.length > 3);
  const T = await startServer(['--batch-tokens', '3']);
  try {
    const client = new OpenAI({ baseURL: `${T.base}/v1`, apiKey: 'unused' });
    const outs = await Promise.all(Array.from({ length: 3 }, () =>
      client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 64, temperature: 0 })));
    for (const c of outs) assert.equal(c.choices[0].text, GREEDY);
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
  const bad = spawnSync(BIN, ['serve', '--batch-tokens', '0']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.toString(), /--batch-tokens/);
});

test('--kv-cache-type q8_0: a model with 64-value heads generates with it, one with 16-value heads falls back to f16', async () => {
  const T = await startServer(['--kv-cache-type', 'q8_0']);
  try {
    const client = new OpenAI({ baseURL: `${T.base}/v1`, apiKey: 'unused' });
    const c = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 64, temperature: 0 });
    assert.equal(c.choices[0].text, GREEDY);
    const q = await client.completions.create({ model: 'qwen', prompt: 'hello there', max_tokens: 12, temperature: 0 });
    assert.equal(q.usage.completion_tokens, 12);
    assert.equal(q.choices[0].finish_reason, 'length');
    assert.match(T.log(), /KV cache: q8_0/);  // the start-up line, printed right after the port opened
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
  const bad = spawnSync(BIN, ['serve', '--port', '0'], { env: { ...process.env, HEARTH_KV_CACHE_TYPE: 'q5' } });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.toString(), /HEARTH_KV_CACHE_TYPE='q5' is not one of f16, q8_0/);
});

test('KV budget: caches of a context that is not a whole number of K blocks are given back exactly', async () => {
  // num_ctx 100 allocates 112 positions; admission once counted 100 and
  // release 112, and after nine such requests the server waited forever.
  for (let i = 0; i < 12; i++) {
    const r = await fetch(`${S.base}/api/generate`, { method: 'POST', signal: AbortSignal.timeout(20000),
      body: JSON.stringify({ model: 'aidreams', prompt: 'I dream', stream: false, options: { num_ctx: 100, num_predict: 2 } }) });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).done, true);
  }
  let usage = NaN;
  for (let i = 0; i < 50; i++) {
    const m = await (await fetch(`${S.base}/metrics`)).text();
    usage = Number(m.match(/^hearth:kv_cache_usage_perc (\S+)$/m)[1]);
    if (usage === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(usage >= 0 && usage <= 1, `kv_cache_usage_perc ${usage}`);
});

test('prompt cache: the next turn reuses the KV of the previous one and generates what a server without the cache does', async () => {
  const T = await startServer(['--prompt-cache', '0']);
  try {
    const cached = new OpenAI({ baseURL: `${S.base}/v1`, apiKey: 'unused' });
    const plain = new OpenAI({ baseURL: `${T.base}/v1`, apiKey: 'unused' });
    const first = await cached.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 16, temperature: 0 });
    assert.equal(first.choices[0].text, GREEDY.slice(0, first.choices[0].text.length));
    // The conversation so far, and more: its prefix is in the cache.
    const next = DREAM + first.choices[0].text + ' And then I';
    const a = await cached.completions.create({ model: 'aidreams', prompt: next, max_tokens: 24, temperature: 0 });
    const b = await plain.completions.create({ model: 'aidreams', prompt: next, max_tokens: 24, temperature: 0 });
    assert.equal(a.usage.prompt_tokens, b.usage.prompt_tokens);
    assert.ok(a.usage.prompt_tokens_details.cached_tokens >= ref.prompt_tokens.length - 1,
      `cached ${a.usage.prompt_tokens_details.cached_tokens} of ${a.usage.prompt_tokens}`);
    assert.ok(a.usage.prompt_tokens_details.cached_tokens < a.usage.prompt_tokens);
    assert.equal(b.usage.prompt_tokens_details.cached_tokens, 0);
    assert.equal(a.choices[0].text, b.choices[0].text);
    // The same prompt again: all but its last token reused, the greedy reference still.
    const again = await cached.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 64, temperature: 0 });
    assert.equal(again.choices[0].text, GREEDY);
    assert.equal(again.usage.prompt_tokens_details.cached_tokens, ref.prompt_tokens.length - 1);
    // A chat's second turn through the Ollama client: the whole prompt is counted.
    const ollama = new Ollama({ host: S.base });
    const messages = [{ role: 'user', content: 'Tell me a dream.' }];
    const r1 = await ollama.chat({ model: 'qwen', messages, stream: false, options: { temperature: 0, num_predict: 8 } });
    messages.push(r1.message, { role: 'user', content: 'And another one.' });
    const r2 = await ollama.chat({ model: 'qwen', messages, stream: false, options: { temperature: 0, num_predict: 8 } });
    const p2 = await new Ollama({ host: T.base }).chat({ model: 'qwen', messages, stream: false, options: { temperature: 0, num_predict: 8 } });
    assert.equal(r2.prompt_eval_count, p2.prompt_eval_count);
    assert.equal(r2.message.content, p2.message.content);
    const m = await (await fetch(`${S.base}/metrics`)).text();
    assert.match(m, /^hearth:prompt_cache_hit_tokens_total\{model_name="qwen"\} [1-9]/m);
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
  const bad = spawnSync(BIN, ['serve', '--port', '0', '--prompt-cache', '-1'], { timeout: 10000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.toString(), /--prompt-cache: Value -1 not in range/);
});

test('API key is required on every route but liveness', async () => {
  const T = await startServer(['--api-key', 'sekret']);
  try {
    assert.equal((await fetch(`${T.base}/health`)).status, 200);
    assert.equal((await fetch(`${T.base}/api/tags`)).status, 401);
    assert.equal((await fetch(`${T.base}/api/tags`, { headers: { authorization: 'Bearer sekret' } })).status, 200);
    // Refused from the head, the body unread: a body over the 16 MiB limit
    // is not answered 413 first, nor a blob upload with 507 or 400.
    for (const path of ['/api/chat', '/api/blobs/sha256:' + '0'.repeat(64)]) {
      const r = await fetch(`${T.base}${path}`, { method: 'POST', body: Buffer.alloc(20 << 20) });
      assert.equal(r.status, 401, path);
      assert.match((await r.json()).error, /API key/);  // (Ollama's form on /api/)
    }
    const client = new OpenAI({ baseURL: `${T.base}/v1`, apiKey: 'wrong' });
    await assert.rejects(client.models.list(), (e) => e.status === 401);
    // Anthropic's clients send x-api-key.
    const ask = (apiKey) => new Anthropic({ baseURL: T.base, apiKey }).messages.create({ model: 'aidreams', max_tokens: 1,
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal((await ask('sekret')).type, 'message');
    await assert.rejects(ask('wrong'), (e) => e.status === 401 && e.error.error.type === 'authentication_error');
    // The CLI talks to its server with the key `hearth serve` reads from the same variable.
    const cli = (key) => spawnSync(BIN, ['run', 'aidreams', '-p', 'I', '-n', '2'],
      { env: { ...process.env, HEARTH_HOST: T.base.replace('http://', ''), HEARTH_API_KEY: key, HEARTH_HOME: tempDir('hearth-nohome-') } });
    assert.equal(cli('sekret').status, 0);
    assert.match(cli('wrong').stderr.toString(), /answered 401: .*\(check HEARTH_API_KEY\)/);
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
});

test('a model loads on its own thread: a completion for a loaded model finishes while another model loads', async () => {
  // A ~230 MB encoder (hearth synth) takes a while to load, and /ready
  // answers 503 "loading" meanwhile. The scheduler loaded models itself
  // before, so every request (and every running stream) waited for the load.
  const dir = tempDir('hearth-load-');
  symlinkSync(join(SHARED, 'models/aidreams260K.gguf'), join(dir, 'aidreams.gguf'));
  execFileSync(BIN, ['synth', '--arch', 'bert', '--dim', '512', '--layers', '12', '--heads', '8', '--ffn', '2048', '--ctx', '512',
    '--vocab-from', join(SHARED, 'models/synth-bert-wordpiece-F16.gguf'), '--type', 'F32', join(dir, 'big.gguf')]);
  writeFileSync(join(dir, 'broken.gguf'), Buffer.from('GGUF\x03\x00\x00\x00 this is not a model', 'latin1'));
  const T = await startServer([], dir);
  try {
    const client = new OpenAI({ baseURL: `${T.base}/v1`, apiKey: 'unused' });
    await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 1, temperature: 0 });  // loaded now
    const embed = fetch(`${T.base}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'big', input: 'stars and rain' }) })
      .then(async (r) => ({ status: r.status, body: await r.json() }));
    let loading = false;
    for (let i = 0; i < 5000 && !loading; i++) loading = (await fetch(`${T.base}/ready`)).status === 503;
    assert.ok(loading, 'the large model loaded before /ready could see it');
    const c = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 6, temperature: 0 });
    assert.equal((await fetch(`${T.base}/ready`)).status, 503, 'the completion waited for the other model to load');
    assert.equal(c.choices[0].text, GREEDY.slice(0, c.choices[0].text.length));
    const e = await embed;
    assert.equal(e.status, 200);
    assert.equal(e.body.embeddings[0].length, 512);
    assert.equal((await fetch(`${T.base}/ready`)).status, 200);
    const ps = await (await fetch(`${T.base}/api/ps`)).json();
    assert.deepEqual(ps.models.map((m) => m.name).sort(), ['aidreams:latest', 'big:latest']);
    // A load that fails fails each request waiting for it, with the reason; the next request tries again.
    const bad = await Promise.all([0, 1].map(() => fetch(`${T.base}/api/generate`, { method: 'POST',
      body: JSON.stringify({ model: 'broken', prompt: 'hi', stream: false }) }).then(async (r) => ({ status: r.status, body: await r.json() }))));
    for (const b of bad) {
      assert.equal(b.status, 500);
      assert.match(b.body.error, /broken\.gguf/);
    }
    const again = await fetch(`${T.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'broken', prompt: 'hi', stream: false }) });
    assert.equal(again.status, 500);
    const ok = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 4, temperature: 0 });
    assert.equal(ok.choices[0].text, GREEDY.slice(0, ok.choices[0].text.length));
    // Entries named like models that are not files: a FIFO (opening it waited
    // for a writer forever, and every later load behind it), a directory, a
    // symlink loop (a 500 "filesystem error" before). Not listed; refused by
    // name; the loader goes on.
    execFileSync('mkfifo', [join(dir, 'fifo.gguf')]);
    mkdirSync(join(dir, 'folder.gguf'));
    symlinkSync(join(dir, 'loop.gguf'), join(dir, 'loop.gguf'));
    const names = (await (await fetch(`${T.base}/api/tags`)).json()).models.map((m) => m.name);
    assert.deepEqual(names.filter((n) => /fifo|folder|loop/.test(n)), []);
    for (const [model, status, why] of [['fifo', 400, /fifo\.gguf: not a regular file/], ['folder', 400, /not a regular file/],
      ['loop', 404, /Too many levels of symbolic links/]]) {
      const r = await fetch(`${T.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model, prompt: 'hi', stream: false }) });
      assert.equal(r.status, status, model);
      assert.match((await r.json()).error, why);
    }
    const after = await client.completions.create({ model: 'aidreams', prompt: DREAM, max_tokens: 2, temperature: 0 });
    assert.equal(after.choices[0].text, GREEDY.slice(0, after.choices[0].text.length));
  } finally {
    T.proc.kill('SIGTERM');
    await T.exited;
  }
});

test('ollama: an empty prompt loads the model and answers when it is loaded; keep_alive 0 unloads it; --keep-alive sets the default', async () => {
  const T = await startServer(['--keep-alive', '1h30m']);
  try {
    const names = async () => (await (await fetch(`${T.base}/api/ps`)).json()).models.map((m) => m.name).sort();
    assert.deepEqual(await names(), []);
    const ollama = new Ollama({ host: T.base });
    const g = await ollama.generate({ model: 'qwen', prompt: '', keep_alive: -1 });
    assert.equal(g.done, true);
    assert.equal(g.done_reason, 'load');
    assert.equal(g.response, '');
    assert.deepEqual(await names(), ['qwen:latest']);
    const c = await ollama.chat({ model: 'aidreams', messages: [], keep_alive: '10m' });
    assert.equal(c.done_reason, 'load');
    assert.equal(c.message.content, '');
    const ps = (await (await fetch(`${T.base}/api/ps`)).json()).models;
    assert.deepEqual(ps.map((m) => m.name).sort(), ['aidreams:latest', 'qwen:latest']);
    const aidreams = ps.find((m) => m.name === 'aidreams:latest');
    const left = Date.parse(aidreams.expires_at) - Date.now();
    assert.ok(left > 5 * 60e3 && left <= 10 * 60e3 + 5e3, `aidreams expires in ${left} ms, not about 10 minutes`);
    const u = await ollama.generate({ model: 'qwen', prompt: '', keep_alive: 0 });
    assert.equal(u.done_reason, 'unload');
    assert.deepEqual(await names(), ['aidreams:latest']);
    await assert.rejects(ollama.generate({ model: 'nope', prompt: '' }), (e) => e.status_code === 404);
    // An encoder loads like any model.
    const r = await fetch(`${T.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'bert' }) });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).done_reason, 'load');
    assert.deepEqual(await names(), ['aidreams:latest', 'bert:latest']);
    // (no keep_alive in the request: the server's --keep-alive)
    const bert = (await (await fetch(`${T.base}/api/ps`)).json()).models.find((m) => m.name === 'bert:latest');
    const bertLeft = Date.parse(bert.expires_at) - Date.now();
    assert.ok(bertLeft > 85 * 60e3 && bertLeft <= 90 * 60e3 + 5e3, `bert expires in ${bertLeft} ms, not about 90 minutes`);
  } finally {
    T.proc.kill('SIGTERM');
    await T.exited;
  }
});

test('a model file rewritten while loaded: the running stream ends with the reason, the server lives on, the next request loads the new file', async () => {
  // `cp other.gguf m.gguf` truncates m.gguf in place: reads of the mapped
  // weights past its new end raised SIGBUS and killed the server. With
  // HEARTH_REPACK=0 every weight is read from the mapping, at every token.
  const dir = tempDir('hearth-rewrite-');
  const file = join(dir, 'm.gguf');
  copyFileSync(join(SHARED, 'models/synth-llama-bpe32k-F16.gguf'), file);
  process.env.HEARTH_REPACK = '0';
  let T;
  try { T = await startServer([], dir); } finally { delete process.env.HEARTH_REPACK; }
  try {
    const r = await fetch(`${T.base}/api/generate`, { method: 'POST',
      body: JSON.stringify({ model: 'm', prompt: 'hi', options: { num_predict: 1000, num_ctx: 1024 } }) });
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let text = dec.decode((await reader.read()).value);
    truncateSync(file, 0);
    for (let c = await reader.read(); !c.done; c = await reader.read()) text += dec.decode(c.value);
    const last = JSON.parse(text.trim().split('\n').at(-1));
    assert.match(last.error ?? '', /its file .*m\.gguf shrank on disk while in use/, text.slice(-300));
    assert.equal((await fetch(`${T.base}/health`)).status, 200);
    // The file's new contents are another model: the next request loads it.
    copyFileSync(join(SHARED, 'models/synth-llama-spm512-Q4_0.gguf'), file);
    const g = await fetch(`${T.base}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'm', prompt: 'hi', stream: false, options: { num_predict: 2 } }) });
    assert.equal(g.status, 200);
    const ps = (await (await fetch(`${T.base}/api/ps`)).json()).models;
    assert.deepEqual(ps.map((m) => [m.name, m.size]), [['m:latest', statSync(file).size]]);
  } finally { T.proc.kill('SIGTERM'); await T.exited; }
});

test('SIGTERM drains a running stream, then exits 0', async () => {
  const T = await startServer();
  const r = await fetch(`${T.base}/api/generate`, { method: 'POST',
    body: JSON.stringify({ model: 'aidreams', prompt: 'I dream', options: { num_predict: 60, temperature: 0 } }) });
  const reader = r.body.getReader();
  const first = await reader.read();
  assert.ok(!first.done);
  T.proc.kill('SIGTERM');
  let text = new TextDecoder().decode(first.value);
  for (;;) { const { value, done } = await reader.read(); if (done) break; text += new TextDecoder().decode(value); }
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).done, true);
  assert.equal(lines.at(-1).eval_count, 60);
  const { code } = await T.exited;
  assert.equal(code, 0);
});
