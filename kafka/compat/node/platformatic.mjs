// @platformatic/kafka: Admin.createTopics, an idempotent producer, and a
// group consumer stream in "committed" mode (earliest without a commit) that
// commits explicitly: the last message of each partition every 1,000 records
// and at the end, before the stream and the consumer close (leaving the group);
// a transactional producer (beginTransaction) and a read_committed consumer.
import { Admin, Producer, Consumer, FetchIsolationLevels, stringSerializers, stringDeserializers, clientSoftwareVersion } from '@platformatic/kafka'
import { env, recordSends, keyedRecords, txnRounds, records, addRecord, main } from './common.mjs'

const base = { clientId: env.clientId, bootstrapBrokers: [env.broker] }

// produce sends each array of messages in one send, in order.
async function produce (sends) {
  const producer = new Producer({
    ...base,
    serializers: stringSerializers,
    idempotent: env.idempotent,
    compression: env.codec,
    acks: -1,
    autocreateTopics: false
  })
  try {
    for (const messages of sends) await producer.send({ messages: messages.map(m => ({ topic: env.topic, ...m })) })
  } finally {
    await producer.close()
  }
}

await main({
  version: async () => ({ version: clientSoftwareVersion }),

  create: async () => {
    const admin = new Admin(base)
    try {
      await admin.createTopics({ topics: [env.topic], partitions: env.partitions, replicas: 1 })
    } finally {
      await admin.close()
    }
  },

  produce: async () => produce(recordSends()),

  // A null key or value goes through stringSerializers as undefined, which
  // the client writes as a null.
  'produce-keyed': async () => produce([keyedRecords()]),

  // transact: beginTransaction, send, commit or abort. Its transactional
  // offset commit (addConsumer, addOffset) takes the messages of a live
  // group member: not used here.
  transact: async () => {
    const producer = new Producer({
      ...base,
      serializers: stringSerializers,
      idempotent: true,
      transactionalId: env.txnId,
      acks: -1,
      autocreateTopics: false
    })
    try {
      for (const r of txnRounds()) {
        const txn = await producer.beginTransaction()
        await txn.send({ messages: r.messages.map(m => ({ topic: env.topic, ...m })) })
        await (r.commit ? txn.commit() : txn.abort())
      }
    } finally {
      await producer.close()
    }
    return { offsets: false }
  },

  // read-committed: isolationLevel READ_COMMITTED (the client's default,
  // set all the same), committing nothing.
  'read-committed': async () => consume(FetchIsolationLevels.READ_COMMITTED, false),

  consume: async () => consume(undefined, true),

  // consume-kip848: consume in a KIP-848 consumer group (groupProtocol
  // 'consumer': the broker assigns).
  'consume-kip848': async () => consume(undefined, true, { groupProtocol: 'consumer' })
})

// consume reads COMPAT_COUNT records in group COMPAT_GROUP from its
// committed offsets (earliest without), committing them or not.
async function consume (isolationLevel, commitRead, groupOptions = {}) {
  const consumer = new Consumer({
    ...base,
    ...groupOptions,
    groupId: env.group,
    deserializers: stringDeserializers,
    ...(isolationLevel === undefined ? {} : { isolationLevel })
  })
  try {
    const stream = await consumer.consume({
      topics: [env.topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false
    })
    const last = new Map() // partition → its last message not committed yet
    const commit = async () => {
      for (const m of last.values()) await m.commit()
      last.clear()
    }
    for await (const m of stream) {
      addRecord(m.partition, m.offset, m.key, m.value, m.headers)
      last.set(m.partition, m)
      if (commitRead && (records.length % 1000 === 0 || records.length >= env.count)) await commit()
      if (records.length >= env.count) break
    }
    await stream.close()
  } finally {
    await consumer.close()
  }
  return { records }
}
