// child_process: a WASI guest cannot start processes.
'use strict';
function unsupported(name) {
  return function () {
    var e = new Error('child_process.' + name + ' is not supported in wasmrun (a WebAssembly guest cannot start processes)');
    e.code = 'ENOSYS';
    throw e;
  };
}
['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'].forEach(function (n) { exports[n] = unsupported(n); });
