// The JavaScript launcher, run by node inside the sandbox (see python3.py for the protocol).
// main receives the variables as one object, as in Dify: function main({a, b}) { ... }.
'use strict';
const fs = require('fs');
const resultFd = Number(process.argv[1]);

function send(message) {
  const data = Buffer.from(JSON.stringify(message));
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(resultFd, data, offset);
}

function kindOf(err) {
  const text = err ? [err.code, err.message, String(err)].join(' ') : '';
  if (/EAGAIN/.test(text)) return 'processes';
  if (/EFBIG|ENOSPC/.test(text)) return 'scratch';
  if (err instanceof RangeError &&
      /allocation|Array buffer|Invalid array length|Invalid string length/i.test(err.message)) {
    return 'memory';
  }
  return 'error';
}

function readStdin() {
  const chunks = [];
  const buffer = Buffer.alloc(65536);
  let n;
  while ((n = fs.readSync(0, buffer, 0, buffer.length, null)) > 0) {
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function run() {
  const request = readStdin();
  for (const name of request.dependencies || []) {
    try {
      require.resolve(name);
    } catch (err) {
      return {ok: false, kind: 'dependency', error: name};
    }
  }
  let value;
  try {
    const load = new Function('require', 'console',
      request.code + '\n;return typeof main === "function" ? main : undefined;');
    const main = load(require, console);
    if (typeof main !== 'function') {
      return {ok: false, kind: 'error', error: 'the code defines no main function'};
    }
    value = await main(request.args);
  } catch (err) {
    const name = err && err.name ? err.name : 'Error';
    const message = err && err.message !== undefined ? err.message : String(err);
    return {ok: false, kind: kindOf(err), error: name + ': ' + message};
  }
  if (value === undefined) value = null;
  try {
    JSON.stringify(value);
  } catch (err) {
    return {ok: false, kind: 'error', error: 'main returned a non-JSON value: ' + err.message};
  }
  return {ok: true, value: value};
}

run()
  .catch((err) => ({ok: false, kind: 'error', error: String(err)}))
  .then((outcome) => { send(outcome); process.exit(0); });
