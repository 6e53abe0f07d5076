// A slow OpenAI-style SSE upstream for the concurrent-streams benchmark.
// POST /v1/chat/completions answers text/event-stream: a role chunk at once,
// then one content chunk every INTERVAL_MS for CHUNKS chunks, then a finish
// chunk, a usage-only chunk and [DONE]. Node built-ins only.
// usage: node slow_sse.js PORT [INTERVAL_MS=500] [CHUNKS=20]
'use strict';
const http = require('http');

const port = Number(process.argv[2] || 0);
const intervalMs = Number(process.argv[3] || 500);
const chunks = Number(process.argv[4] || 20);

function event(obj) {
  return 'data: ' + JSON.stringify(obj) + '\n\n';
}
function chunk(id, delta, finish) {
  return event({
    id, object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
}

let seq = 0;
const server = http.createServer((req, res) => {
  req.resume();
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}');
    return;
  }
  req.on('end', () => {
    const id = 'chatcmpl-slow' + (++seq);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(chunk(id, { role: 'assistant', content: '' }, null));
    let sent = 0;
    const timer = setInterval(() => {
      sent++;
      res.write(chunk(id, { content: ' token' + sent }, null));
      if (sent >= chunks) {
        clearInterval(timer);
        res.write(chunk(id, {}, 'stop'));
        res.write(event({
          id, object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model', choices: [],
          usage: { prompt_tokens: 14, completion_tokens: chunks, total_tokens: 14 + chunks },
        }));
        res.end('data: [DONE]\n\n');
      }
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.requestTimeout = 0;
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  console.log('slow-sse listening on http://127.0.0.1:' + server.address().port);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
