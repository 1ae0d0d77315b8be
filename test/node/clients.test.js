// The npm packages openai and @anthropic-ai/sdk as clients of the real
// tollgate binary, in front of `tollgate mock`: most users' clients are not
// Go. Run by `make test` (make test-node); GATEWAY_BIN names the binary (not
// TOLLGATE_…: tollgate reads those variables as configuration).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const bin = process.env.GATEWAY_BIN || fileURLToPath(new URL('../../bin/tollgate', import.meta.url));
const reply = 'This is a mock response from tollgate.';
const children = [];
let dir, usagePath, host, gateway;

// freePorts returns n distinct loopback ports that were free a moment ago:
// every listener stays open until all are picked, or the kernel may hand
// the same port out twice.
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise((resolve, reject) => {
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((srv) => srv.address().port);
  } finally {
    await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(() => resolve()))));
  }
}

function start(args, env = {}) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderrText = () => stderr;
  children.push(child);
  return child;
}

async function waitFor(url, child) {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered:\n${child.stderrText()}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-node-'));
  usagePath = join(dir, 'usage.jsonl');
  const [mockPort, port, adminPort] = await freePorts(3);
  const mock = start(['mock', '--listen', `127.0.0.1:${mockPort}`]);
  await waitFor(`http://127.0.0.1:${mockPort}/v1/models`, mock);
  const up = `http://127.0.0.1:${mockPort}`;
  writeFileSync(join(dir, 'tollgate.yaml'), `
listen: 127.0.0.1:${port}
admin_listen: 127.0.0.1:${adminPort}
data_dir: ${dir}
log: {level: info, format: json}
providers:
  openai: {base_url: ${up}/v1, api_key_env: NODE_OPENAI_KEY}
  anthropic: {base_url: ${up}, api_key_env: NODE_ANTHROPIC_KEY}
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: ${usagePath}}]}}
`);
  host = start(['serve', '--config', join(dir, 'tollgate.yaml')],
    { NODE_OPENAI_KEY: 'sk-node-planted', NODE_ANTHROPIC_KEY: 'sk-ant-node-planted' });
  await waitFor(`http://127.0.0.1:${adminPort}/healthz`, host);
  gateway = `http://127.0.0.1:${port}`;
});

after(async () => {
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const headers = { 'X-Tollgate-Customer': 'node' };
const openai = () => new OpenAI({ baseURL: `${gateway}/v1`, apiKey: 'sk-node-client', maxRetries: 0, defaultHeaders: headers });
const anthropic = () => new Anthropic({ baseURL: gateway, apiKey: 'sk-ant-node-client', maxRetries: 0, defaultHeaders: headers });
const seen = []; // [operation, stream, {input, output, cached}] as each SDK parsed it

test('openai chat completions, whole and streamed', async () => {
  const params = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello from node' }] };
  const whole = await openai().chat.completions.create(params);
  assert.equal(whole.choices[0].message.content, reply);
  seen.push(['chat.completions', false, { input: whole.usage.prompt_tokens, output: whole.usage.completion_tokens }]);

  const stream = await openai().chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, reply);
  seen.push(['chat.completions', true, { input: usage.prompt_tokens, output: usage.completion_tokens }]);
});

test('openai responses, whole and streamed', async () => {
  const params = { model: 'gpt-4o-mini', input: 'Hello from node', instructions: 'Be terse.' };
  const whole = await openai().responses.create(params);
  assert.equal(whole.output_text, reply);
  seen.push(['responses', false, { input: whole.usage.input_tokens, output: whole.usage.output_tokens }]);

  const stream = await openai().responses.create({ ...params, stream: true });
  let text = '';
  let final;
  for await (const ev of stream) {
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') final = ev.response;
  }
  assert.equal(text, reply);
  seen.push(['responses', true, { input: final.usage.input_tokens, output: final.usage.output_tokens }]);
});

test('openai embeddings (base64 by default in this SDK)', async () => {
  const got = await openai().embeddings.create({ model: 'text-embedding-3-small', input: ['one two', 'three four five'] });
  assert.equal(got.data.length, 2);
  assert.equal(got.data[0].embedding.length, 8);
  assert.equal(got.usage.prompt_tokens, 5);
  seen.push(['embeddings', false, { input: 5, output: 0 }]);
});

test('anthropic messages, whole and streamed', async () => {
  const params = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello from node' }] };
  const whole = await anthropic().messages.create(params);
  assert.equal(whole.content[0].text, reply);
  const u = whole.usage;
  seen.push(['messages', false, { input: u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0), output: u.output_tokens }]);

  const stream = anthropic().messages.stream(params);
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, reply);
  const f = final.usage;
  seen.push(['messages', true, { input: f.input_tokens + (f.cache_read_input_tokens ?? 0) + (f.cache_creation_input_tokens ?? 0), output: f.output_tokens }]);
});

test('anthropic bad input gets an Anthropic-shaped 400', async () => {
  await assert.rejects(anthropic().messages.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err.status === 400 && err.error?.error?.type === 'invalid_request_error' && /max_tokens/.test(err.message));
});

test('usage events match what each SDK parsed, to the token', async () => {
  host.kill('SIGTERM');
  assert.equal(await host.exited, 0, host.stderrText());
  const events = readFileSync(usagePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ok = events.filter((e) => e.status === 'ok');
  assert.equal(ok.length, seen.length, JSON.stringify(events));
  ok.forEach((ev, i) => {
    const [op, stream, u] = seen[i];
    assert.equal(ev.operation, op);
    assert.equal(ev.stream, stream);
    assert.equal(ev.customer_id, 'node');
    assert.equal(ev.input_tokens, u.input, `${op} input`);
    assert.equal(ev.output_tokens, u.output, `${op} output`);
    assert.equal(ev.total_tokens, u.input + u.output);
  });
  const invalid = events.filter((e) => e.status === 'invalid');
  assert.equal(invalid.length, 1);
  for (const secret of ['sk-node-planted', 'sk-ant-node-planted', 'sk-node-client', 'sk-ant-node-client']) {
    assert.ok(!host.stderrText().includes(secret), `logs show ${secret}`);
  }
});
