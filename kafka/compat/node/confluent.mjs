// @confluentinc/kafka-javascript (librdkafka) through its KafkaJS-compatible
// API: admin.createTopics, an idempotent producer (the codec is a producer
// setting there), and a group consumer with auto-commit: librdkafka stores the
// offset of each message eachMessage returned and commits the stored offsets
// when disconnect closes the consumer; a transactional producer
// (producer.transaction(), sendOffsets with a consumer of the group that
// subscribes to nothing) and a read_committed group consumer.
import { createRequire } from 'node:module'
import { env, recordSends, keyedRecords, txnRounds, offsetTopics, records, addRecord, untilRecords, main } from './common.mjs'

const require = createRequire(import.meta.url)
const ckjs = require('@confluentinc/kafka-javascript')
const { Kafka, logLevel } = ckjs.KafkaJS

const kafka = new Kafka({ kafkaJS: { clientId: env.clientId, brokers: [env.broker], logLevel: logLevel.WARN } })

// produce sends each array of messages in one send, in order.
async function produce (sends) {
  const producer = kafka.producer({
    kafkaJS: { idempotent: env.idempotent, compression: env.codec, acks: -1, allowAutoTopicCreation: false }
  })
  await producer.connect()
  try {
    for (const messages of sends) await producer.send({ topic: env.topic, messages })
  } finally {
    await producer.disconnect()
  }
}

await main({
  version: async () => ({
    version: `${require('@confluentinc/kafka-javascript/package.json').version} (librdkafka ${ckjs.librdkafkaVersion})`
  }),

  create: async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({
        topics: [{ topic: env.topic, numPartitions: env.partitions, replicationFactor: 1 }]
      })
      if (!created) throw new Error(`createTopics: ${env.topic} already exists`)
    } finally {
      await admin.disconnect()
    }
  },

  produce: async () => produce(recordSends()),

  'produce-keyed': async () => produce([keyedRecords()]),

  transact: async () => {
    const producer = kafka.producer({
      kafkaJS: { transactionalId: env.txnId, idempotent: true, acks: -1, allowAutoTopicCreation: false }
    })
    const group = kafka.consumer({ kafkaJS: { groupId: env.group, autoCommit: false } })
    await producer.connect()
    await group.connect()
    try {
      for (const r of txnRounds()) {
        const txn = await producer.transaction()
        await txn.send({ topic: env.topic, messages: r.messages })
        if (r.offsets) await txn.sendOffsets({ consumer: group, topics: offsetTopics(r.offsets) })
        await (r.commit ? txn.commit() : txn.abort())
      }
    } finally {
      await group.disconnect()
      await producer.disconnect()
    }
    return { offsets: true }
  },

  // read-committed: readUncommitted false (librdkafka's isolation.level
  // default, read_committed, set all the same), committing nothing.
  'read-committed': async () => consume({ readUncommitted: false, autoCommit: false }),

  consume: async () => consume({ autoCommit: true }),

  // consume-kip848: consume in a KIP-848 consumer group (librdkafka's
  // group.protocol=consumer: the broker assigns).
  'consume-kip848': async () => consume({ autoCommit: true }, { 'group.protocol': 'consumer' })
})

// consume reads COMPAT_COUNT records in group COMPAT_GROUP from the beginning.
async function consume (opts, rdkafka = {}) {
  const consumer = kafka.consumer({ kafkaJS: { groupId: env.group, fromBeginning: true, ...opts }, ...rdkafka })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [env.topic] })
    await consumer.run({
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
