// The official X-Ray SDK for Node.js (aws-xray-sdk-core, default settings) sending to the
// local X-Ray: a traced HTTP service whose requests call a downstream HTTP server (200, 404,
// 429, 500), DynamoDB through the AWS SDK v3 (moto), an async function that throws, and one
// request with enough subsegments that the SDK streams them. Centralized sampling is on (the
// SDK's default): it polls the daemon address over TCP for rules.
// Needs AWS_XRAY_DAEMON_ADDRESS and MOTO_ENDPOINT; prints one JSON line describing what ran.
'use strict';

const http = require('http');
const AWSXRay = require('aws-xray-sdk-core');
const { DynamoDBClient, CreateTableCommand, PutItemCommand, GetItemCommand } =
  require('@aws-sdk/client-dynamodb');

AWSXRay.captureHTTPsGlobal(http);
AWSXRay.setContextMissingStrategy('IGNORE_ERROR');  // the driver's own requests are untraced
const SERVICE = 'node-orders';
AWSXRay.middleware.setDefaultName(SERVICE);

const dynamodb = AWSXRay.captureAWSv3Client(new DynamoDBClient({
  endpoint: process.env.MOTO_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  maxAttempts: 1,
}));

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, headers }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('error', reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function asyncWork() {
  // An error made in a timer callback: its stack runs through node:internal/timers, frames
  // the SDK records with "line": null (parseInt of "internal/timers").
  return new Promise((resolve, reject) => setTimeout(() => reject(new Error('async boom')), 1));
}

async function handle(request, segment, downstreamPort) {
  const kind = new URL(request.url, 'http://x').searchParams.get('kind');
  if (kind === 'http') {
    for (const path of ['/ok', '/missing', '/slow-down', '/broken']) {
      await get(downstreamPort, path);
    }
  } else if (kind === 'dynamodb') {
    await dynamodb.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: '1' } } }));
    try {
      await dynamodb.send(new GetItemCommand({ TableName: 'no-such-table', Key: { id: { S: '1' } } }));
    } catch (error) { /* a 400 from DynamoDB: recorded on its subsegment */ }
  } else if (kind === 'async-error') {
    try {
      await AWSXRay.captureAsyncFunc('async-work', async (subsegment) => {
        try {
          await asyncWork();
        } catch (error) {
          subsegment.close(error);
          throw error;
        }
      });
    } catch (error) {
      segment.addError(error);
    }
  } else if (kind === 'large') {
    for (let number = 0; number < 150; number++) {
      const subsegment = segment.addNewSubsegment(`step-${number}`);
      subsegment.addMetadata('number', number);
      subsegment.close();
    }
  }
  return kind === 'async-error' ? 500 : 200;
}

async function main() {
  const downstream = await listen((request, response) => {
    const status = { '/ok': 200, '/missing': 404, '/slow-down': 429, '/broken': 500 }[request.url];
    response.writeHead(status || 404).end('done');
  });
  const downstreamPort = downstream.address().port;
  const service = await listen((request, response) => {
    const segment = AWSXRay.middleware.traceRequestResponseCycle(request, response);
    const namespace = AWSXRay.getNamespace();
    namespace.bindEmitter(request);
    namespace.bindEmitter(response);
    namespace.run(() => {
      AWSXRay.setSegment(segment);
      // The trace id and sampling decision in the body: plain http has no res.header() for
      // the SDK to answer with an X-Amzn-Trace-Id header.
      const body = JSON.stringify({ trace_id: segment.trace_id, sampled: !segment.notTraced });
      handle(request, segment, downstreamPort).then(
        (status) => response.writeHead(status).end(body),
        (error) => { segment.addError(error); response.writeHead(500).end(body); },
      );
    });
  });
  const port = service.address().port;
  await dynamodb.send(new CreateTableCommand({
    TableName: 'orders',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  const requests = [];
  for (const kind of ['warm-up', 'http', 'dynamodb', 'async-error', 'large']) {
    if (kind === 'http') {
      await sleep(1000);  // the rule poller, started by the first request, fetches the rules
    }
    const response = await get(port, `/orders?kind=${kind}`);
    requests.push({ kind, status: response.status, ...JSON.parse(response.body) });
  }
  await sleep(1500);  // the SDK sends over UDP as segments close: let the last ones go out
  service.close();
  downstream.close();
  process.stdout.write(JSON.stringify({ service: SERVICE, requests }) + '\n');
  process.exit(0);
}

main().catch((error) => { console.error(error); process.exit(1); });
