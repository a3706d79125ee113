// KafkaJS 2.2.4: admin.createTopics, an idempotent producer (gzip is its only
// built-in codec), and a group consumer with auto-commit, which commits the
// resolved offsets after every batch and once more when disconnect stops it;
// a transactional producer (producer.transaction(), sendOffsets with a
// consumerGroupId) and a read_committed group consumer.
import { createRequire } from 'node:module'
import { Kafka, CompressionTypes, logLevel } from 'kafkajs'
import { env, recordSends, keyedRecords, txnRounds, offsetTopics, records, addRecord, untilRecords, main } from './common.mjs'

const require = createRequire(import.meta.url)

const kafka = new Kafka({ clientId: env.clientId, brokers: [env.broker], logLevel: logLevel.WARN })

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }

// produce sends each array of messages in one send, in order.
async function produce (sends) {
  if (!(env.codec in codecs)) throw new Error(`KafkaJS has no built-in ${env.codec} codec`)
  const producer = kafka.producer({
    idempotent: env.idempotent,
    maxInFlightRequests: env.idempotent ? 1 : undefined,
    allowAutoTopicCreation: false
  })
  await producer.connect()
  try {
    for (const messages of sends) {
      await producer.send({ topic: env.topic, acks: -1, compression: codecs[env.codec], messages })
    }
  } finally {
    await producer.disconnect()
  }
}

await main({
  version: async () => ({ version: require('kafkajs/package.json').version }),

  create: async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({
        topics: [{ topic: env.topic, numPartitions: env.partitions, replicationFactor: 1 }],
        waitForLeaders: true
      })
      if (!created) throw new Error(`createTopics: ${env.topic} already exists`)
    } finally {
      await admin.disconnect()
    }
  },

  produce: async () => produce(recordSends()),

  'produce-keyed': async () => produce([keyedRecords()]),

  // transact: producer.transaction(), send, sendOffsets, commit or abort.
  transact: async () => {
    const producer = kafka.producer({ transactionalId: env.txnId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    await producer.connect()
    try {
      for (const r of txnRounds()) {
        const txn = await producer.transaction()
        await txn.send({ topic: env.topic, acks: -1, messages: r.messages })
        if (r.offsets) await txn.sendOffsets({ consumerGroupId: env.group, topics: offsetTopics(r.offsets) })
        await (r.commit ? txn.commit() : txn.abort())
      }
    } finally {
      await producer.disconnect()
    }
    return { offsets: true }
  },

  // read-committed: consume with readUncommitted false (KafkaJS's default,
  // set all the same), committing nothing.
  'read-committed': async () => consume({ readUncommitted: false }, false),

  consume: async () => consume({}, true)
})

// consume reads COMPAT_COUNT records in group COMPAT_GROUP from the
// beginning, with auto-commit or without.
async function consume (opts, autoCommit) {
  const consumer = kafka.consumer({ groupId: env.group, ...opts })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [env.topic], fromBeginning: true })
    await consumer.run({
      autoCommit,
      eachMessage: async ({ partition, message }) => {
        if (records.length < env.count) {
          addRecord(partition, message.offset, message.key, message.value, message.headers)
        }
      }
    })
    await untilRecords(env.count)
  } finally {
    await consumer.disconnect()
  }
  return { records }
}
