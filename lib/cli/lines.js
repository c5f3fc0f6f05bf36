'use strict'
// Input: the bytes of a file or of stdin, split into one message per line by split2 (which
// also joins UTF-8 characters cut between chunks). `\r\n` endings lose their `\r`, and a last
// line without a newline still counts. With --json each line is parsed; a line that is not
// JSON is reported with its number and skipped. Backpressure comes from pipe(): the splitter
// stops reading while the manager's writable side is full.

const fs = require('node:fs')
const split2 = require('split2')

/**
 * Opens the input: `file`, or `stdin` when no file is given. `size` is the number of bytes
 * to read when it is known (a regular file, also as stdin), else undefined.
 */
function openInput (file, stdin) {
  if (file === undefined) {
    let size
    try {
      const st = fs.fstatSync(0)
      if (st.isFile()) size = st.size
    } catch {}
    return { stream: stdin, size }
  }
  const fd = fs.openSync(file, 'r') // throws ENOENT/EACCES before any worker starts
  const st = fs.fstatSync(fd)
  if (st.isDirectory()) {
    fs.closeSync(fd)
    const err = new Error(`EISDIR: illegal operation on a directory, open '${file}'`)
    err.code = 'EISDIR'
    throw err
  }
  return { stream: fs.createReadStream(null, { fd, highWaterMark: 256 * 1024 }), size: st.isFile() ? st.size : undefined }
}

/**
 * The line splitter. `onBadLine(lineNumber, err)` is called for a --json line that is not
 * JSON (or is `null`, which a stream cannot carry); the line is not sent. The splitter
 * counts the `lines` it has cut and their `chars` (with line endings), for the progress.
 */
function lineSplitter ({ json, onBadLine }) {
  let splitter = null
  const mapper = json
    ? (line) => {
        const n = ++splitter.lines
        splitter.chars += line.length + 1
        let value
        try {
          value = JSON.parse(trimCR(line))
        } catch (err) {
          onBadLine(n, err.message)
          return undefined
        }
        if (value === null) {
          onBadLine(n, 'null cannot be a message')
          return undefined
        }
        return value
      }
    : (line) => {
        splitter.lines++
        splitter.chars += line.length + 1
        return trimCR(line)
      }
  splitter = split2('\n', mapper, { highWaterMark: 1024 })
  splitter.lines = 0
  splitter.chars = 0
  return splitter
}

function trimCR (line) {
  return line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line
}

module.exports = { openInput, lineSplitter }
