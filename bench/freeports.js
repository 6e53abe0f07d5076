// Prints N distinct free TCP ports on 127.0.0.1, space-separated (bench/run.sh).
'use strict';
const net = require('net');
const n = Number(process.argv[2] || 1);
const servers = [];
let pending = n;
for (let i = 0; i < n; i++) {
  const s = net.createServer();
  servers.push(s);
  s.listen(0, '127.0.0.1', () => {
    if (--pending === 0) {
      const ports = servers.map((x) => x.address().port);
      servers.forEach((x) => x.close());
      process.stdout.write(ports.join(' ') + '\n');
    }
  });
}
