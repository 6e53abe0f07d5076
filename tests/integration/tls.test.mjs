// 6. TLS: an HTTPS upstream with a certificate from a private CA works when
//    the provider's ca_file names that CA, and is refused (502) without it,
//    i.e. tollgate really verifies certificates.
//
// The CA and server certificate are made at test time with the openssl CLI.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, post, tempDir, parseSSE, chatText } from './lib/harness.mjs';

/** Makes a throwaway CA and a server cert for 127.0.0.1/localhost signed by it. */
function makeCerts() {
  const dir = tempDir('tollgate-tls-');
  const f = (n) => path.join(dir, n);
  const ossl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=tollgate test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
  ].join('\n') + '\n');
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext'));
  return { caFile: f('ca.pem'), key: readFileSync(f('server.key')), cert: readFileSync(f('server.pem')) };
}

let certs;
let fake;
let tg;
before(async () => {
  certs = makeCerts();
  fake = await startFakeOpenAI({ tls: { key: certs.key, cert: certs.cert } });
  // Same HTTPS upstream twice: once trusting the private CA, once not.
  tg = await startTollgate({
    providers: [
      openaiProvider('tlsai', fake.baseUrl, { ca_file: certs.caFile }),
      openaiProvider('untrusted', fake.baseUrl, { max_retries: 0 }),
    ],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'tlsai', model: 'gpt-4o-mini' }] },
      { name: 'untrusted-model', deployments: [{ provider: 'untrusted', model: 'gpt-4o-mini' }] },
    ],
  });
});
after(async () => { await stopAll(); await fake.close(); });

test('HTTPS upstream with ca_file: non-stream and stream work', async () => {
  assert.match(fake.baseUrl, /^https:\/\/127\.0\.0\.1:\d+\/v1$/);
  fake.reset();
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, 'Hello from the fake upstream model.');
  assert.equal(fake.apiRequests().length, 1);

  const s = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini', { stream: true }));
  assert.equal(s.status, 200, s.text);
  assert.equal(chatText(parseSSE(s.text)), 'Hello from the fake upstream model.');
  const [row] = await tg.waitForRows(1, { where: `id = '${s.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.estimated, 0);
  assert.ok(row.cost_usd > 0);
});

test('HTTPS upstream without ca_file: certificate rejected, 502', async () => {
  fake.reset();
  const r = await post(tg.base, '/v1/chat/completions', chatBody('untrusted-model'));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json?.error?.code, 'upstream_unreachable');
  assert.match(r.json.error.message, /untrusted/, 'message names the provider');
  assert.equal(fake.apiRequests().length, 0, 'no request may be sent over an unverified connection');
  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.status, 502);
  assert.equal(row.error_class, 'upstream_unreachable');
});
