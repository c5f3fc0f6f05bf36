'use strict'
// Preloaded into every worker the command line starts (`node --require`). Ctrl-C in a
// terminal sends SIGINT to the whole process group, workers included; they ignore it so that
// forkfriend can let them finish what is in flight. forkfriend still ends them (SIGTERM).
// A listener does not keep a worker's event loop alive, so a worker still exits as before.
process.on('SIGINT', () => {})
