// A user app for the reliability tests: `node recorder.js`, with PORT and RECORD_FILE in the environment.
//
// Every request that reaches it is appended to RECORD_FILE as "<id> <pid> <revision> <method> <path>" the
// moment its head arrives: one write() per line on an O_APPEND descriptor, so the lines of several pods
// sharing the file never interleave. It answers "<revision> <id>" after SLEEP_MS milliseconds (or ?ms=N).
// The id is the `id` query parameter ("-" without one); with `drop` it closes the connection instead of answering.
'use strict';
const fs = require('fs');
const http = require('http');

const port = Number(process.env.PORT);
const record = fs.openSync(process.env.RECORD_FILE, 'a');
const revision = process.env.K_REVISION || '-';
const defaultDelay = Number(process.env.SLEEP_MS || 0);

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  const id = url.searchParams.get('id') || '-';
  const ms = url.searchParams.has('ms') ? Number(url.searchParams.get('ms')) : defaultDelay;
  fs.writeSync(record, `${id} ${process.pid} ${revision} ${req.method} ${url.pathname}\n`);
  if (url.searchParams.has('drop')) {
    // an app failing mid-request: the connection closes with no answer at all
    req.socket.destroy();
    return;
  }
  req.resume();
  req.on('end', () => {
    setTimeout(() => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${revision} ${id}\n`);
    }, ms);
  });
});
// the queue-proxy keeps connections to the app open between requests; outlive its idle pool
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1');
