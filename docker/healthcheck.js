#!/usr/bin/env node
// Container health check with the one tool the image is sure to have (node): exit 0 when the URL
// answers 200 within 4 s, 1 otherwise. The URL is the first argument, else BCS_API_HEALTHCHECK_URL, else
// http://127.0.0.1:8080/livez. For an https URL the certificate is not verified: this only asks the
// local process whether it runs, and sends no credentials.
'use strict';
const http = require('node:http');
const https = require('node:https');

const target = new URL(process.argv[2] || process.env.BCS_API_HEALTHCHECK_URL || 'http://127.0.0.1:8080/livez');
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
