// @confluentinc/kafka-javascript (librdkafka) through its KafkaJS-compatible
// API: admin.createTopics, an idempotent producer (the codec is a producer
// setting there), and a group consumer with auto-commit: librdkafka stores the
// offset of each message eachMessage returned and commits the stored offsets
// when disconnect closes the consumer.
import { createRequire } from 'node:module'
import { env, recordSends, keyedRecords, records, addRecord, untilRecords, main } from './common.mjs'

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

  consume: async () => {
    const consumer = kafka.consumer({ kafkaJS: { groupId: env.group, fromBeginning: true, autoCommit: true } })
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
})
