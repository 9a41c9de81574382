// os: what a WASI guest can tell.
'use strict';
module.exports = {
  EOL: '\n',
  platform: function () { return process.platform; },
  type: function () { return 'Linux'; },
  arch: function () { return process.arch; },
  release: function () { return '0.0.0-wasmrun'; },
  hostname: function () { return binding.hostname(); },
  tmpdir: function () { return process.env.TMPDIR || '/tmp'; },
  homedir: function () { return process.env.HOME || '/'; },
  endianness: function () { return 'LE'; },
  uptime: function () { return process.uptime(); },
  cpus: function () { return [{ model: 'wasm', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } }]; },
  availableParallelism: function () { return 1; },
  totalmem: function () { return 4294967296; },
  freemem: function () { return 0; },
  loadavg: function () { return [0, 0, 0]; },
  networkInterfaces: function () { return {}; },
  userInfo: function () { return { uid: 0, gid: 0, username: process.env.USER || 'root', homedir: process.env.HOME || '/', shell: null }; },
  constants: { signals: { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 }, errno: {} },
  devNull: '/dev/null',
};
