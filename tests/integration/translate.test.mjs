// Translation both ways, end to end with the official clients:
//   * the `openai` client's chat.completions against an Anthropic-backed model
//     (non-stream, stream, tools with a tool_calls round trip, system prompt):
//     the fake Anthropic must receive a valid Messages request (top-level system,
//     tools with input_schema, max_tokens) and the client valid chat.completion
//     and chat.completion.chunk objects;
//   * the `@anthropic-ai/sdk` against OpenAI-compatible models (lib/fake_openai,
//     and a small tool-calling OpenAI fake in this file) and against the offline
//     `sim` provider: valid Anthropic messages and stream events (finalMessage,
//     tool_use blocks).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startFakeAnthropic, anthropicProvider } from './lib/fake_anthropic.mjs';
import { startTollgate, stopAll, openaiProvider, simProvider, closeTo, post, parseSSE, PRICES } from './lib/harness.mjs';

const CLAUDE = 'claude-haiku-4-5';
const CLAUDE_SERVED = 'claude-haiku-4-5-20251001';
const CP = { input: 1, cached_input: 0.1, cache_write_5m: 1.25, cache_write_1h: 2, output: 5 };
const TOOL_MODEL = 'gpt-tools';
const TP = { input: 2, output: 8 };

// ---------------------------------------------------------------------------
// A tool-calling OpenAI-compatible fake: answers with a get_weather tool call
// when the request offers tools and the last message is not a tool result;
// with text otherwise. Validates tool messages like OpenAI does.

const TOOL_CALL_ID = 'call_Wx9QkZ3h1';
const TOOL_ARGS = '{"location":"Paris, France","unit":"celsius"}';

async function startToolFake() {
  const requests = [];
  const usage = { prompt_tokens: 300, completion_tokens: 40, total_tokens: 340, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests.push({ path: req.url, headers: req.headers, body });
    const error = (message) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'messages', code: null } }));
    };
    // OpenAI: a tool message must answer a tool_call of the preceding assistant message.
    let offered = new Set();
    for (const m of body.messages) {
      if (m.role === 'assistant') offered = new Set((m.tool_calls ?? []).map((t) => t.id));
      else if (m.role === 'tool') {
        if (!offered.has(m.tool_call_id)) return error("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.");
      } else offered = new Set();
    }
    for (const t of body.tools ?? []) {
      if (t.type !== 'function' || !t.function?.name) return error('Invalid tools: expected type function with function.name');
    }
    const last = body.messages.at(-1);
    const callTool = (body.tools?.length ?? 0) > 0 && last.role !== 'tool';
    const base = { id: 'chatcmpl-toolfake1', created: 1732000000, model: body.model, system_fingerprint: 'fp_tools' };
    const text = 'It is 18 degrees and sunny in Paris.';
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({
        ...base, object: 'chat.completion',
        choices: [{
          index: 0, logprobs: null, finish_reason: callTool ? 'tool_calls' : 'stop',
          message: callTool
            ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: TOOL_CALL_ID, type: 'function', function: { name: body.tools[0].function.name, arguments: TOOL_ARGS } }] }
            : { role: 'assistant', content: text, refusal: null },
        }],
        usage,
      }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    const events = [chunk({ role: 'assistant', content: null, refusal: null })];
    if (callTool) {
      events.push(chunk({ tool_calls: [{ index: 0, id: TOOL_CALL_ID, type: 'function', function: { name: body.tools[0].function.name, arguments: '' } }] }));
      for (const piece of [TOOL_ARGS.slice(0, 10), TOOL_ARGS.slice(10, 30), TOOL_ARGS.slice(30)]) {
        events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
      events.push(chunk({}, 'tool_calls'));
    } else {
      for (const w of text.match(/\S+\s*/g)) events.push(chunk({ content: w }));
      events.push(chunk({}, 'stop'));
    }
    if (body.stream_options?.include_usage) events.push({ ...base, object: 'chat.completion.chunk', choices: [], usage });
    for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    requests,
    baseUrl: `http://127.0.0.1:${server.address().port}/v1`,
    close: () => { server.closeAllConnections?.(); return new Promise((r) => server.close(() => r())); },
  };
}

// ---------------------------------------------------------------------------

let fakeAnt;
let fakeOai;
let toolFake;
let tg;
let oai;
let ant;
before(async () => {
  [fakeAnt, fakeOai, toolFake] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startToolFake()]);
  tg = await startTollgate({
    providers: [
      anthropicProvider('anthropic', fakeAnt.baseUrl),
      openaiProvider('fakeai', fakeOai.baseUrl),
      openaiProvider('toolai', toolFake.baseUrl),
      simProvider('sim'),
    ],
    models: [
      { name: CLAUDE, deployments: [{ provider: 'anthropic', model: CLAUDE_SERVED }] },
      { name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] },
      { name: TOOL_MODEL, deployments: [{ provider: 'toolai', model: TOOL_MODEL }] },
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
    ],
    overrides: [
      { model: CLAUDE_SERVED, ...CP, reasoning: CP.output },
      { model: TOOL_MODEL, ...TP },
      ...Object.entries(PRICES).map(([model, p]) => ({ model, ...p })),
    ],
  });
  oai = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-translate-client', maxRetries: 0, timeout: 10000 });
  ant = new Anthropic({ baseURL: tg.base, apiKey: 'sk-translate-client', maxRetries: 0, timeout: 10000 });
});
after(async () => { await stopAll(); await Promise.all([fakeAnt.close(), fakeOai.close(), toolFake.close()]); });

const WEATHER_FN = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a given location',
    parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  },
};
const WEATHER_TOOL = { name: 'get_weather', description: WEATHER_FN.function.description, input_schema: WEATHER_FN.function.parameters };

function assertChatCompletion(c) {
  assert.equal(c.object, 'chat.completion');
  assert.equal(typeof c.id, 'string');
  assert.equal(typeof c.created, 'number');
  assert.equal(c.model, CLAUDE);
  assert.equal(c.choices.length, 1);
  assert.equal(c.choices[0].index, 0);
  assert.equal(c.choices[0].message.role, 'assistant');
}

// ----------------------------- OpenAI client -> Anthropic model

test('chat -> Claude, non-stream: system top-level, max_tokens, valid chat.completion, metered', async () => {
  fakeAnt.reset().set({
    content: [
      { type: 'thinking', thinking: 'Short answer needed.', signature: 'sig_abc' },
      { type: 'text', text: 'Bonjour!' },
    ],
    usage: { input_tokens: 20, cache_creation_input_tokens: 100, cache_read_input_tokens: 400, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 100 }, output_tokens: 30 },
  });
  const { data, response } = await oai.chat.completions.create({
    model: CLAUDE,
    messages: [
      { role: 'system', content: 'You are a French greeter.' },
      { role: 'user', content: 'Say hello.' },
    ],
    max_completion_tokens: 300,
    temperature: 0.4,
    stop: ['\n\n'],
    user: 'trans-user',
  }).withResponse();

  const up = fakeAnt.lastMessageRequest();
  assert.equal(up.body.model, CLAUDE_SERVED);
  assert.equal(up.body.system, 'You are a French greeter.');
  assert.ok(up.body.messages.every((m) => m.role !== 'system'), 'no system role inside messages');
  assert.deepEqual(up.body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }]);
  assert.equal(up.body.max_tokens, 300);
  assert.equal(up.body.temperature, 0.4);
  assert.deepEqual(up.body.stop_sequences, ['\n\n']);
  assert.deepEqual(up.body.metadata, { user_id: 'trans-user' });
  assert.equal(up.body.stream, undefined);
  assert.equal(up.headers['x-api-key'], 'sk-ant-upstream-test');
  assert.equal(up.headers['anthropic-version'], '2023-06-01');

  assertChatCompletion(data);
  assert.equal(data.choices[0].message.content, 'Bonjour!');
  assert.equal(data.choices[0].message.reasoning_content, 'Short answer needed.');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, 520);
  assert.equal(data.usage.completion_tokens, 30);
  assert.equal(data.usage.total_tokens, 550);
  assert.equal(data.usage.prompt_tokens_details.cached_tokens, 400);

  const [row] = await tg.waitForRows(1, { where: `id = '${response.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'chat.completions');
  assert.equal(row.provider, 'anthropic');
  assert.equal(row.served_model, CLAUDE_SERVED);
  assert.equal(row.input_tokens, 20);
  assert.equal(row.cache_read_tokens, 400);
  assert.equal(row.cache_write_1h_tokens, 100);
  assert.equal(row.output_tokens, 30);
  closeTo(row.cost_usd, (20 * CP.input + 400 * CP.cached_input + 100 * CP.cache_write_1h + 30 * CP.output) / 1e6);
});

test('chat -> Claude without max_tokens gets the default max_tokens Anthropic requires', async () => {
  fakeAnt.reset();
  const c = await oai.chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(c.choices[0].message.content, 'Hello from the fake Claude model.');
  const up = fakeAnt.lastMessageRequest();
  assert.ok(Number.isInteger(up.body.max_tokens) && up.body.max_tokens > 0, `max_tokens: ${up.body.max_tokens}`);
  assert.equal(up.body.system, undefined);
});

test('chat -> Claude, stream with include_usage: valid chunks, text + reasoning, usage chunk', async () => {
  fakeAnt.reset().set({
    content: [
      { type: 'thinking', thinking: 'Greeting in French.', signature: 'sig_xyz' },
      { type: 'text', text: 'Bonjour tout le monde!' },
    ],
    usage: { input_tokens: 15, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 },
  });
  const stream = await oai.chat.completions.create({
    model: CLAUDE,
    messages: [{ role: 'system', content: 'Be French.' }, { role: 'user', content: 'Greet everyone.' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const up = fakeAnt.lastMessageRequest();
  assert.equal(up.body.stream, true);
  assert.equal(up.body.system, 'Be French.');

  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.model, CLAUDE);
    assert.equal(c.id, chunks[0].id);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  const reasoning = chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('');
  assert.equal(content, 'Bonjour tout le monde!');
  assert.equal(reasoning, 'Greeting in French.');
  const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  assert.deepEqual(finishes, ['stop']);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 15);
  assert.equal(last.usage.completion_tokens, 12);
  assert.equal(last.usage.total_tokens, 27);
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'usage: null on every other chunk');

  const rows = await tg.waitForRows(1, { where: `endpoint = 'chat.completions' and provider = 'anthropic' and streamed = 1` });
  const row = rows.at(-1);
  assert.equal(row.input_tokens, 15);
  assert.equal(row.output_tokens, 12);
  assert.equal(row.error_class, null);
  closeTo(row.cost_usd, (15 * CP.input + 12 * CP.output) / 1e6);
});

test('chat -> Claude, stream without include_usage: no usage chunk, ends with [DONE]', async () => {
  fakeAnt.reset();
  const res = await post(tg.base, '/v1/chat/completions', { model: CLAUDE, messages: [{ role: 'user', content: 'hi' }], stream: true });
  assert.equal(res.status, 200);
  const events = parseSSE(res.text).filter((e) => e.data !== null);
  assert.equal(events.at(-1).data, '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
  assert.ok(chunks.every((c) => c.choices.length === 1 && !('usage' in c)));
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'Hello from the fake Claude model.');
});

test('chat -> Claude, tools: tool_calls round trip (non-stream)', async () => {
  const toolUse = { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'Paris, France', unit: 'celsius' } };
  fakeAnt.reset().set({ content: [{ type: 'text', text: 'Let me check.' }, toolUse] });
  const messages = [
    { role: 'system', content: 'You can call tools.' },
    { role: 'user', content: 'Weather in Paris?' },
  ];
  const first = await oai.chat.completions.create({ model: CLAUDE, messages, tools: [WEATHER_FN], tool_choice: 'auto', max_tokens: 200 });
  let up = fakeAnt.lastMessageRequest();
  assert.deepEqual(up.body.tools, [WEATHER_TOOL]);
  assert.deepEqual(up.body.tool_choice, { type: 'auto' });
  assert.equal(up.body.system, 'You can call tools.');
  assert.equal(up.body.max_tokens, 200);

  assertChatCompletion(first);
  const msg = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.content, 'Let me check.');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].id, toolUse.id);
  assert.equal(msg.tool_calls[0].type, 'function');
  assert.equal(msg.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), toolUse.input);

  // Round trip: the assistant tool call and the tool result go back.
  fakeAnt.set({ content: [{ type: 'text', text: 'It is 18 degrees and sunny in Paris.' }] });
  const second = await oai.chat.completions.create({
    model: CLAUDE,
    messages: [...messages, msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '18C, sunny' }],
    tools: [WEATHER_FN],
    max_tokens: 200,
  });
  up = fakeAnt.lastMessageRequest();
  assert.deepEqual(up.body.messages, [
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: toolUse.id, name: 'get_weather', input: toolUse.input }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '18C, sunny' }] },
  ]);
  assert.equal(second.choices[0].message.content, 'It is 18 degrees and sunny in Paris.');
  assert.equal(second.choices[0].finish_reason, 'stop');
});

test('chat -> Claude, tools streamed: ChatCompletionStream assembles the tool call', async () => {
  const toolUse = { type: 'tool_use', id: 'toolu_01StreamedToolCall', name: 'get_weather', input: { location: 'Oslo', unit: 'celsius' } };
  fakeAnt.reset().set({ content: [toolUse] });
  const stream = oai.chat.completions.stream({
    model: CLAUDE,
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    tools: [WEATHER_FN],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  const final = await stream.finalChatCompletion();
  assert.deepEqual(fakeAnt.lastMessageRequest().body.tool_choice, { type: 'tool', name: 'get_weather' });
  const choice = final.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].id, toolUse.id);
  assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), toolUse.input);
});

// ----------------------------- Anthropic SDK -> OpenAI-compatible models

test('Anthropic SDK -> OpenAI model, non-stream: system prompt, valid message, metered', async () => {
  fakeOai.reset().set({ content: 'Hi from GPT.', usage: { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 200, reasoning_tokens: 0 } });
  const { data, response } = await ant.messages.create({
    model: 'gpt-4o-mini',
    max_tokens: 256,
    system: 'You are helpful.',
    messages: [{ role: 'user', content: 'Hello?' }],
    stop_sequences: ['END'],
  }).withResponse();
  const up = fakeOai.apiRequests().at(-1);
  assert.equal(up.path, '/v1/chat/completions');
  assert.deepEqual(up.body.messages, [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hello?' }]);
  assert.equal(up.body.max_tokens, 256);
  assert.deepEqual(up.body.stop, ['END']);
  assert.equal(up.headers.authorization, 'Bearer sk-upstream-test');

  assert.equal(data.type, 'message');
  assert.equal(data.role, 'assistant');
  assert.equal(data.model, 'gpt-4o-mini');
  assert.match(data.id, /^msg_/);
  assert.deepEqual(data.content, [{ type: 'text', text: 'Hi from GPT.' }]);
  assert.equal(data.stop_reason, 'end_turn');
  assert.equal(data.usage.input_tokens, 800);
  assert.equal(data.usage.cache_read_input_tokens, 200);
  assert.equal(data.usage.output_tokens, 500);
  const [row] = await tg.waitForRows(1, { where: `id = '${response.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'messages');
  assert.equal(row.provider, 'fakeai');
  assert.equal(row.input_tokens, 800);
  assert.equal(row.cache_read_tokens, 200);
  assert.equal(row.output_tokens, 500);
});

test('Anthropic SDK -> OpenAI model, stream: event sequence and finalMessage', async () => {
  fakeOai.reset().set({ content: 'Streaming from an OpenAI model works fine.' });
  const stream = ant.messages.stream({
    model: 'gpt-4o-mini', max_tokens: 128, system: [{ type: 'text', text: 'Be brief.' }],
    messages: [{ role: 'user', content: 'Stream please.' }],
  });
  const types = [];
  stream.on('streamEvent', (e) => types.push(e.type));
  const final = await stream.finalMessage();
  const up = fakeOai.apiRequests().at(-1);
  assert.equal(up.body.stream, true);
  assert.equal(up.body.stream_options?.include_usage, true);
  assert.deepEqual(up.body.messages[0], { role: 'system', content: 'Be brief.' });

  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  assert.equal(types.filter((t) => t === 'content_block_start').length, 1);
  assert.equal(types.filter((t) => t === 'content_block_stop').length, 1);
  assert.equal(final.content.length, 1);
  assert.equal(final.content[0].type, 'text');
  assert.equal(final.content[0].text, 'Streaming from an OpenAI model works fine.');
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, 500);
  assert.equal(final.model, 'gpt-4o-mini');

  const rows = await tg.waitForRows(1, { where: `endpoint = 'messages' and provider = 'fakeai' and streamed = 1` });
  const row = rows.at(-1);
  assert.equal(row.input_tokens, 1000);
  assert.equal(row.output_tokens, 500);
  assert.equal(row.error_class, null);
  closeTo(row.cost_usd, (1000 * 1 + 500 * 2) / 1e6);
});

test('Anthropic SDK -> OpenAI model, tools non-stream: tool_use block and tool_result round trip', async () => {
  toolFake.requests.length = 0;
  const req = {
    model: TOOL_MODEL, max_tokens: 300, system: 'Use tools.',
    tools: [WEATHER_TOOL], tool_choice: { type: 'auto' },
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  };
  const first = await ant.messages.create(req);
  let up = toolFake.requests.at(-1);
  assert.deepEqual(up.body.tools, [WEATHER_FN]);
  assert.equal(up.body.tool_choice, 'auto');
  assert.equal(first.stop_reason, 'tool_use');
  const tu = first.content.find((b) => b.type === 'tool_use');
  assert.ok(tu, JSON.stringify(first.content));
  assert.equal(tu.id, TOOL_CALL_ID);
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, JSON.parse(TOOL_ARGS));

  const second = await ant.messages.create({
    ...req,
    messages: [
      ...req.messages,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: '18C, sunny' }] },
    ],
  });
  up = toolFake.requests.at(-1);
  const sent = up.body.messages;
  assert.deepEqual(sent.at(-1), { role: 'tool', tool_call_id: TOOL_CALL_ID, content: '18C, sunny' });
  assert.equal(sent.at(-2).role, 'assistant');
  assert.equal(sent.at(-2).tool_calls[0].id, TOOL_CALL_ID);
  assert.deepEqual(JSON.parse(sent.at(-2).tool_calls[0].function.arguments), JSON.parse(TOOL_ARGS));
  assert.equal(second.stop_reason, 'end_turn');
  assert.equal(second.content[0].text, 'It is 18 degrees and sunny in Paris.');
});

test('Anthropic SDK -> OpenAI model, tools streamed: tool_use with input_json_delta, finalMessage', async () => {
  toolFake.requests.length = 0;
  const stream = ant.messages.stream({
    model: TOOL_MODEL, max_tokens: 300, tools: [WEATHER_TOOL], tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const deltas = [];
  stream.on('streamEvent', (e) => { if (e.type === 'content_block_delta') deltas.push(e.delta.type); });
  const final = await stream.finalMessage();
  assert.deepEqual(toolFake.requests.at(-1).body.tool_choice, { type: 'function', function: { name: 'get_weather' } });
  assert.ok(deltas.length > 0 && deltas.every((t) => t === 'input_json_delta'), deltas.join());
  assert.equal(final.stop_reason, 'tool_use');
  assert.equal(final.content.length, 1);
  assert.equal(final.content[0].type, 'tool_use');
  assert.equal(final.content[0].id, TOOL_CALL_ID);
  assert.equal(final.content[0].name, 'get_weather');
  assert.deepEqual(final.content[0].input, JSON.parse(TOOL_ARGS));
  assert.equal(final.usage.output_tokens, 40);
  const rows = await tg.waitForRows(1, { where: `provider = 'toolai' and streamed = 1` });
  closeTo(rows.at(-1).cost_usd, (300 * TP.input + 40 * TP.output) / 1e6);
});

// ----------------------------- Anthropic SDK -> sim

test('Anthropic SDK -> sim model: non-stream and stream give valid Anthropic answers', async () => {
  const msg = await ant.messages.create({ model: 'sim-small', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.content[0].type, 'text');
  assert.match(msg.content[0].text, /^\[simulated\]/);
  assert.ok(msg.usage.input_tokens > 0);
  assert.equal(msg.usage.output_tokens, 8);

  const stream = ant.messages.stream({ model: 'sim-small', max_tokens: 8, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });
  const types = [];
  stream.on('streamEvent', (e) => types.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.match(final.content[0].text, /^\[simulated\]/);
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, 8);
  const rows = await tg.waitForRows(2, { where: `provider = 'sim' and endpoint = 'messages'` });
  assert.ok(rows.every((r) => r.status === 200 && r.output_tokens === 8));
});

test('count_tokens for a non-Anthropic model is answered by tollgate (no upstream call)', async () => {
  const before = fakeOai.requests.length;
  const r = await ant.messages.countTokens({ model: 'gpt-4o-mini', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
  assert.ok(Number.isInteger(r.input_tokens) && r.input_tokens > 0, JSON.stringify(r));
  assert.equal(fakeOai.requests.length, before);
});
