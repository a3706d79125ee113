// Shared by the client scripts, which kafka/compat/node_e2e_test.go runs as
// `node <client>.mjs <command>`: parameters come from COMPAT_* environment
// variables, the result is one JSON object on the last line of stdout, logs
// go to stderr. A failing command prints {"error": …, "records": […]} (the
// records read so far) and exits 1.

const e = process.env

export const env = {
  broker: e.COMPAT_BROKER,
  clientId: e.COMPAT_CLIENT_ID,
  id: e.COMPAT_ID,
  idempotent: e.COMPAT_IDEMPOTENT === 'true',
  topic: e.COMPAT_TOPIC,
  group: e.COMPAT_GROUP,
  partitions: Number(e.COMPAT_PARTITIONS ?? 0),
  first: Number(e.COMPAT_FIRST ?? 0),
  count: Number(e.COMPAT_COUNT ?? 0),
  codec: e.COMPAT_CODEC ?? 'none',
  txnId: e.COMPAT_TXN_ID,
  timeoutMs: Number(e.COMPAT_TIMEOUT_MS ?? 60000)
}

// The records every client produces: the same as recKey, recValue and the
// headers in matrix_e2e_test.go.
const pad = i => String(i).padStart(5, '0')
export const recKey = i => `key-${pad(i)}`
export const recValue = i => `value-${pad(i)}-chronik-compat-chronik-compat-chronik-compat`
export const recHeaders = i => ({ client: env.id, seq: String(i) })

// recordSends are the records of the produce command (COMPAT_FIRST and
// COMPAT_COUNT) in sends of 1,000: several requests per partition, so an
// idempotent producer's sequence numbers advance across requests.
export function recordSends () {
  const sends = []
  for (let start = env.first; start < env.first + env.count; start += 1000) {
    const messages = []
    for (let i = start; i < Math.min(start + 1000, env.first + env.count); i++) {
      messages.push({ key: recKey(i), value: recValue(i), headers: recHeaders(i) })
    }
    sends.push(messages)
  }
  return sends
}

// keyedRecords are the records of the produce-keyed command (the compacted
// steps), from COMPAT_RECORDS: [{k, v}], null for a null key or value (a
// tombstone), each with the "client" header.
export const keyedRecords = () =>
  JSON.parse(e.COMPAT_RECORDS ?? '[]').map(r => ({ key: r.k, value: r.v, headers: { client: env.id } }))

// txnRounds are the transactions of the transact command, from COMPAT_TXN:
// [{prefix, n, commit, offsets}], offsets ({partition: offset}) optional;
// each round's messages go record i to partition i % 3, as txnKey and
// txnValue in txn_e2e_test.go build them, with the "client" header.
export const txnRounds = () =>
  JSON.parse(e.COMPAT_TXN ?? '[]').map(r => {
    const messages = []
    for (let i = 0; i < r.n; i++) {
      const k = `${r.prefix}-${String(i).padStart(2, '0')}`
      messages.push({ key: k, value: `${k}-chronik-compat-txn`, partition: i % 3, headers: { client: env.id } })
    }
    return { ...r, messages }
  })

// offsetTopics is a round's offsets in the KafkaJS sendOffsets shape.
export const offsetTopics = offsets => [{
  topic: env.topic,
  partitions: Object.entries(offsets).map(([p, o]) => ({ partition: Number(p), offset: String(o) }))
}]

// records collects what consume read, in delivery order; printed on failure too.
export const records = []

const str = v => (v == null ? '' : Buffer.isBuffer(v) ? v.toString() : String(v))

// addRecord appends one consumed record; headers may be an object or a Map
// of strings or Buffers.
export function addRecord (partition, offset, key, value, headers) {
  const h = {}
  const entries = headers instanceof Map ? headers.entries() : Object.entries(headers ?? {})
  for (const [k, v] of entries) h[str(k)] = str(Array.isArray(v) ? v[0] : v)
  records.push({ p: partition, o: Number(offset), k: str(key), v: str(value), h })
}

// Resolves when `records` holds n records; polled so the client's callbacks
// stay simple.
export function untilRecords (n) {
  return new Promise(resolve => {
    const t = setInterval(() => {
      if (records.length >= n) {
        clearInterval(t)
        resolve()
      }
    }, 20)
  })
}

// exit prints obj and exits with code once stdout has taken it all (writes
// to a pipe are asynchronous: process.exit alone would cut them short).
function exit (obj, code) {
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(code))
}

// describe is err's stack followed by the errors it aggregates and its
// cause, one line each, indented by depth: err.stack leaves them out, and
// @platformatic/kafka reports a refused produce as an AggregateError whose
// nested errors hold the broker's error code (apiId).
function describe (err) {
  const lines = [String(err?.stack ?? err)]
  const nested = (e, depth) => {
    if (depth > 5) return
    const subs = [...(Array.isArray(e?.errors) ? e.errors : []), ...(e?.cause ? [e.cause] : [])]
    for (const sub of subs) {
      const code = sub?.apiId ? ` (${sub.apiId})` : ''
      lines.push(`${'  '.repeat(depth)}${sub?.name ?? 'Error'}: ${sub?.message ?? sub}${code}`)
      nested(sub, depth + 1)
    }
  }
  nested(err, 1)
  return lines.join('\n')
}

// main runs the command named by argv[2] from commands and exits; it fails
// after COMPAT_TIMEOUT_MS.
export async function main (commands) {
  const name = process.argv[2]
  let done = false
  const fail = err => {
    if (done) return
    done = true
    exit({ error: describe(err), records }, 1)
  }
  const cmd = commands[name]
  if (!cmd) return fail(new Error(`unknown command ${name}; want one of ${Object.keys(commands).join(', ')}`))
  const timer = setTimeout(() => fail(new Error(`${name} timed out after ${env.timeoutMs} ms (${records.length} records read)`)), env.timeoutMs)
  try {
    const out = (await cmd()) ?? {}
    clearTimeout(timer)
    if (!done) {
      done = true
      exit(out, 0)
    }
  } catch (err) {
    fail(err)
  }
}
