// http_hello: the example of README.md's Rust section (TestRustHTTPHello
// runs it). An HTTP hello server with nothing but Rust std, on the
// listening socket wasmrun hands the guest (--listen). WASI preview1 has no
// socket(), bind() or connect(), so std::net cannot open a socket on any
// preview1 host; accept, read and write on one it is given work.
//
//   http_hello [N]    print "serving on fd FD", answer N requests (default:
//                     forever), print "done"
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::wasi::io::{AsRawFd, FromRawFd};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn fd_fdstat_get(fd: u32, stat: *mut [u8; 24]) -> u16;
}

/// The first listening socket the host preopened (filetype 6: SOCKET_STREAM).
/// `wasmrun run --listen` puts it after the --dir preopens (fd 3 without
/// any), `wasmrun os --listen` after the app's (/ and /tmp: fd 5).
fn preopened_listener() -> Option<TcpListener> {
    for fd in 3..1024 {
        let mut stat = [0u8; 24];
        match unsafe { fd_fdstat_get(fd, &mut stat) } {
            0 if stat[0] == 6 => return Some(unsafe { TcpListener::from_raw_fd(fd as i32) }),
            0 => continue,
            _ => return None, // EBADF: no more descriptors
        }
    }
    None
}

fn answer(stream: &TcpStream) -> std::io::Result<()> {
    let mut request = BufReader::new(stream);
    let mut line = String::new();
    request.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    while line.trim_end() != "" {
        line.clear();
        if request.read_line(&mut line)? == 0 {
            break;
        }
    }
    let body = format!("Hello from Rust on wasmrun! You asked for {}\n", path);
    let mut out = stream;
    write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body)
}

fn main() {
    let n: Option<usize> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    let listener = preopened_listener().unwrap_or_else(|| {
        eprintln!("no listening socket: run with wasmrun run --listen PORT (or wasmrun os --listen PORT)");
        std::process::exit(2)
    });
    println!("serving on fd {}", listener.as_raw_fd());
    let mut served = 0;
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = answer(&s) {
                    eprintln!("request: {}", e);
                }
            }
            Err(e) => eprintln!("accept: {}", e),
        }
        served += 1;
        if Some(served) == n {
            break;
        }
    }
    println!("done");
}
