// Starts fauxqs (the SQS emulator) on 127.0.0.1 only.
//
// fauxqs's own CLI (dist/cli.js) always binds 0.0.0.0, so this file builds
// the same app and listens on loopback. Usage:
//
//   node fauxqs.mjs [PORT]        (or FAUXQS_PORT=PORT; default 9324)
//
// Queue URLs are http://127.0.0.1:PORT/000000000000/NAME whatever Host header
// the client sent, and the region is us-east-1 unless FAUXQS_DEFAULT_REGION
// says otherwise. FAUXQS_LOGGER=true logs one line per request.
//
// The package's "exports" only exposes ".", so dist/ files are imported by
// path relative to this file.

const dist = new URL("./node_modules/fauxqs/dist/", import.meta.url);
const { buildApp } = await import(new URL("app.js", dist).href);
const { SqsStore } = await import(new URL("sqs/sqsStore.js", dist).href);

const port = Number.parseInt(process.argv[2] ?? process.env.FAUXQS_PORT ?? "9324", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`fauxqs.mjs: bad port ${JSON.stringify(process.argv[2] ?? process.env.FAUXQS_PORT)}`);
  process.exit(2);
}
const region = process.env.FAUXQS_DEFAULT_REGION || "us-east-1";
const logger = (process.env.FAUXQS_LOGGER ?? "false") !== "false";

const sqsStore = new SqsStore();
if (typeof sqsStore.buildQueueUrl !== "function") {
  throw new Error("fauxqs.mjs: SqsStore.buildQueueUrl is gone; check the pinned fauxqs version");
}
// Default would be http://sqs.REGION.localhost:PORT/...; pin loopback instead.
sqsStore.buildQueueUrl = (queueName) => `http://127.0.0.1:${port}/000000000000/${queueName}`;

const app = buildApp({ logger, defaultRegion: region, stores: { sqsStore } });
const address = await app.listen({ host: "127.0.0.1", port });
console.log(`fauxqs: listening on ${address} (region ${region})`);

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    app.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
