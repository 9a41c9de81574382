// HTTP hello server of bench/languages.sh: the same file runs on the host's
// node and on the nodejs runtime under wasmrun. Listens on 127.0.0.1:$PORT.
require('http').createServer((req, res) => {
  res.writeHead(200);
  res.end('hello');
}).listen(Number(process.env.PORT), '127.0.0.1');
