// std_bind: what Rust std's sockets do on WASI preview1 (any host): bind,
// connect and name resolution fail with "operation not supported on this
// platform". README.md's Rust section says so; TestRustStdSocketsUnsupported
// checks it.
use std::net::{TcpListener, TcpStream, ToSocketAddrs};

fn main() {
    match TcpListener::bind("127.0.0.1:8080") {
        Ok(_) => println!("bind ok"),
        Err(e) => println!("bind: {}", e),
    }
    match TcpStream::connect("127.0.0.1:8080") {
        Ok(_) => println!("connect ok"),
        Err(e) => println!("connect: {}", e),
    }
    match "localhost:80".to_socket_addrs() {
        Ok(_) => println!("resolve ok"),
        Err(e) => println!("resolve: {}", e),
    }
}
