// sock_std serves TCP echo with nothing but Rust std on the listening
// socket the host preopened at fd 3 (wasmrun run --listen): preview1's
// sock_accept, then reads and writes on the accepted stream.
//
//   sock_std N     print "serving", echo N connections, print "done"
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::wasi::io::FromRawFd;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let listener = unsafe { TcpListener::from_raw_fd(3) };
    println!("serving");
    for _ in 0..n {
        let (mut stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(e) => {
                println!("error accept {}", e);
                std::process::exit(1);
            }
        };
        let mut buf = [0u8; 4096];
        loop {
            let r = stream.read(&mut buf).unwrap_or_else(|e| {
                println!("error read {}", e);
                std::process::exit(1)
            });
            if r == 0 {
                break;
            }
            stream.write_all(&buf[..r]).unwrap_or_else(|e| {
                println!("error write {}", e);
                std::process::exit(1)
            });
        }
    }
    println!("done");
}
