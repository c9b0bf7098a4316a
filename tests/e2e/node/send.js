// Reports one trace with the Node `jaeger-client` through a Sextant agent and fetches the
// service's sampling strategy from the agent's HTTP port, as a Node service would.
//
//   node send.js <agentHost> <udpPort> <samplingPort> <service>
//
// The Node client's UDP sender speaks the binary thrift protocol (Jaeger's port 6832).
// Prints one JSON line: {"traceId": "<hex>", "sampler": "<what the agent answered>"}.
'use strict';

const { initTracer } = require('jaeger-client');
const RemoteSampler = require('jaeger-client/dist/src/samplers/remote_sampler').default;
const ConstSampler = require('jaeger-client/dist/src/samplers/const_sampler').default;

const [host, udpPort, samplingPort, service] = process.argv.slice(2);
const fail = (msg) => {
  console.error(msg);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 20000).unref();

function fetchStrategy() {
  return new Promise((resolve) => {
    // Starting from a const sampler, any strategy the agent answers replaces it, so the
    // update callback proves the answer was fetched and understood.
    const sampler = new RemoteSampler(service, {
      sampler: new ConstSampler(false),
      host,
      port: Number(samplingPort),
      refreshInterval: 0,
      logger: { info() {}, error: (m) => fail(`sampling: ${m}`) },
      onSamplerUpdate: (s) => {
        sampler.close(() => {});
        resolve(s.toString());
      },
    });
    sampler._refreshSamplingStrategy();
  });
}

function report() {
  const tracer = initTracer(
    {
      serviceName: service,
      sampler: { type: 'const', param: 1 },
      reporter: { agentHost: host, agentPort: Number(udpPort), flushIntervalMs: 50 },
    },
    { tags: { 'deployment.zone': 'zone-n' }, logger: { info() {}, error: (m) => fail(m) } },
  );
  const root = tracer.startSpan('GET /cart');
  root.setTag('http.status_code', 200);
  const child = tracer.startSpan('load-cart', { childOf: root });
  child.log({ event: 'cache.miss' });
  child.finish();
  root.finish();
  const traceId = root.context().traceIdStr;
  return new Promise((resolve) => tracer.close(() => resolve(traceId)));
}

(async () => {
  const sampler = await fetchStrategy();
  const traceId = await report();
  console.log(JSON.stringify({ traceId, sampler }));
})();
