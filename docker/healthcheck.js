#!/usr/bin/env node
// Container health check: exit 0 when GET /readyz answers 200 within the timeout, 1 otherwise.
// BCS_API_HEALTHCHECK_URL overrides the target (default http://127.0.0.1:8080/readyz). For an https
// URL the certificate is not verified: this only asks the local process whether it is ready.
'use strict';
const http = require('node:http');
const https = require('node:https');

const target = new URL(process.env.BCS_API_HEALTHCHECK_URL || 'http://127.0.0.1:8080/readyz');
const client = target.protocol === 'https:' ? https : http;
const req = client.get(target, { timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exitCode = res.statusCode === 200 ? 0 : 1;
  if (process.exitCode) console.error(`${target.pathname}: HTTP ${res.statusCode}`);
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => {
  console.error(`${target.pathname}: ${err.message}`);
  process.exitCode = 1;
});
