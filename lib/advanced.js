'use strict'
// Messages of `serialization: 'advanced'` pools, in exactly the frames Node's own channel
// writes and reads for that mode (lib/internal/child_process/serialization.js): a 4-byte
// big-endian length, then the output of a v8 serializer whose host-object hook writes
// ArrayBufferViews (Buffer, typed arrays, DataView) behind a tag, and plain copies of other
// host objects. The bytes were checked equal to Node 20, 22, 24 and 26's own.

const v8 = require('node:v8')
const { isArrayBufferView } = require('node:util/types')
const { unserializable } = require('./errors')

const HEADER = 4
// Tags of Node's host-object hook.
const VIEW = 0
const NOT_VIEW = 1

class Serializer extends v8.DefaultSerializer {
  _writeHostObject (object) {
    if (isArrayBufferView(object)) {
      this.writeUint32(VIEW)
      return super._writeHostObject(object)
    }
    this.writeUint32(NOT_VIEW)
    this.writeValue({ ...object })
  }
}

class Deserializer extends v8.DefaultDeserializer {
  _readHostObject () {
    const tag = this.readUint32()
    if (tag === VIEW) return super._readHostObject()
    if (tag !== NOT_VIEW) throw new Error(`Unknown host object tag ${tag} in a message`)
    return this.readValue()
  }
}

/** One message as a whole frame (length prefix included). */
function frame (message) {
  // A message must be a value (Node's send() refuses undefined too).
  if (message === undefined) throw unserializable(undefined, 'V8')
  const ser = new Serializer()
  ser.writeRawBytes(Buffer.allocUnsafe(HEADER))
  ser.writeHeader()
  try {
    ser.writeValue(message)
  } catch (cause) {
    throw unserializable(cause, 'V8')
  }
  const buf = ser.releaseBuffer()
  buf.writeUInt32BE(buf.length - HEADER, 0)
  return buf
}

/** The message of the frame at `buf[at, end)`. */
function readFrame (buf, at, end) {
  const des = new Deserializer(buf.subarray(at + HEADER, end))
  des.readHeader()
  return des.readValue()
}

/**
 * Every message of `buf` (whole frames back to back), in order. A frame that cannot be
 * read becomes an InvalidFrame (the caller reports it as a worker error).
 */
function readFrames (buf) {
  const out = []
  let at = 0
  while (buf.length - at >= HEADER) {
    const end = at + HEADER + buf.readUInt32BE(at)
    try {
      out.push(readFrame(buf, at, end))
    } catch (err) {
      out.push(new InvalidFrame(err))
    }
    at = end
  }
  return out
}

class InvalidFrame {
  constructor (error) {
    this.error = error
  }
}

const KEEP_BYTES = 4 << 20

/** Frames for one crossing into the core, copied into one reused buffer. */
class FrameBatch {
  constructor () {
    this.buffer = Buffer.allocUnsafe(64 << 10)
    this.length = 0
    this.count = 0
  }

  add (f) {
    const need = this.length + f.length
    if (need > this.buffer.length) {
      let size = this.buffer.length
      while (size < need) size *= 2
      const bigger = Buffer.allocUnsafe(size)
      this.buffer.copy(bigger, 0, 0, this.length)
      this.buffer = bigger
    }
    f.copy(this.buffer, this.length)
    this.length += f.length
    this.count++
  }

  clear () {
    this.length = 0
    this.count = 0
    if (this.buffer.length > KEEP_BYTES) this.buffer = Buffer.allocUnsafe(64 << 10)
  }
}

module.exports = { frame, readFrames, InvalidFrame, FrameBatch, HEADER }
