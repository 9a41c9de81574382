// sock_echo: a TCP and UDP echo server in Rust std, declaring the WasmEdge
// socket extension by hand in the mixed shape of the popular
// wasmedge_wasi_socket crate: V1 sock_accept(fd, *fd), V1
// sock_getlocaladdr/getpeeraddr (with addr_type), V2 sock_recv_from (with a
// port), sock_getsockopt with a length pointer.
//
//   sock_echo tcp-server ADDR N    print "listening PORT", echo N connections
//   sock_echo udp-server ADDR      print "listening PORT", echo one datagram

use std::env;
use std::process::exit;

#[repr(C)]
struct WasiAddress {
    buf: *mut u8,
    size: u32,
}

#[repr(C)]
struct IoVec {
    buf: *mut u8,
    len: u32,
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn sock_open(af: u32, ty: u32, fd: *mut u32) -> u32;
    fn sock_bind(fd: u32, addr: *mut WasiAddress, port: u32) -> u32;
    fn sock_listen(fd: u32, backlog: u32) -> u32;
    fn sock_accept(fd: u32, new_fd: *mut u32) -> u32;
    fn sock_getlocaladdr(fd: u32, addr: *mut WasiAddress, addr_type: *mut u32, port: *mut u32) -> u32;
    fn sock_getpeeraddr(fd: u32, addr: *mut WasiAddress, addr_type: *mut u32, port: *mut u32) -> u32;
    fn sock_recv(fd: u32, iovs: *mut IoVec, n: u32, flags: u32, nread: *mut u32, oflags: *mut u32) -> u32;
    fn sock_send(fd: u32, iovs: *mut IoVec, n: u32, flags: u32, nwritten: *mut u32) -> u32;
    fn sock_recv_from(
        fd: u32,
        iovs: *mut IoVec,
        n: u32,
        addr: *mut WasiAddress,
        flags: u32,
        port: *mut u32,
        nread: *mut u32,
        oflags: *mut u32,
    ) -> u32;
    fn sock_send_to(fd: u32, iovs: *mut IoVec, n: u32, addr: *mut WasiAddress, port: u32, flags: u32, nwritten: *mut u32) -> u32;
    fn sock_getsockopt(fd: u32, level: u32, name: u32, val: *mut i32, len: *mut u32) -> u32;
    fn sock_setsockopt(fd: u32, level: u32, name: u32, val: *const i32, len: u32) -> u32;
    fn sock_shutdown(fd: u32, how: u32) -> u32;
    fn fd_close(fd: u32) -> u32;
}

fn check(errno: u32, what: &str) {
    if errno != 0 {
        println!("error {} {}", what, errno);
        exit(1);
    }
}

fn parse_v4(s: &str) -> [u8; 4] {
    let mut ip = [0u8; 4];
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        println!("error bad address {}", s);
        exit(2);
    }
    for (i, p) in parts.iter().enumerate() {
        ip[i] = p.parse().unwrap_or_else(|_| {
            println!("error bad address {}", s);
            exit(2)
        });
    }
    ip
}

fn sotype(fd: u32) -> i32 {
    let mut v: i32 = -1;
    let mut len: u32 = 4;
    check(unsafe { sock_getsockopt(fd, 0, 1, &mut v, &mut len) }, "getsockopt");
    if len != 4 {
        println!("error getsockopt len {}", len);
        exit(1);
    }
    v
}

fn bind(fd: u32, ip: &mut [u8; 4]) -> u32 {
    let mut addr = WasiAddress { buf: ip.as_mut_ptr(), size: 4 };
    check(unsafe { sock_bind(fd, &mut addr, 0) }, "bind");
    let mut out = [0u8; 16];
    let mut oaddr = WasiAddress { buf: out.as_mut_ptr(), size: 16 };
    let (mut ty, mut port) = (0u32, 0u32);
    check(unsafe { sock_getlocaladdr(fd, &mut oaddr, &mut ty, &mut port) }, "getlocaladdr");
    if ty != 4 || out[..4] != ip[..] {
        println!("error getlocaladdr type {} addr {:?}", ty, &out[..4]);
        exit(1);
    }
    port
}

fn tcp_server(ip: &mut [u8; 4], n: u32) {
    let mut fd = 0u32;
    check(unsafe { sock_open(1, 2, &mut fd) }, "open");
    let one: i32 = 1;
    check(unsafe { sock_setsockopt(fd, 0, 0, &one, 4) }, "setsockopt");
    let port = bind(fd, ip);
    check(unsafe { sock_listen(fd, 64) }, "listen");
    println!("sotype {}", sotype(fd));
    println!("listening {}", port);
    for _ in 0..n {
        let mut c = 0u32;
        check(unsafe { sock_accept(fd, &mut c) }, "accept");
        let mut peer = [0u8; 16];
        let mut paddr = WasiAddress { buf: peer.as_mut_ptr(), size: 16 };
        let (mut ty, mut pport) = (0u32, 0u32);
        check(unsafe { sock_getpeeraddr(c, &mut paddr, &mut ty, &mut pport) }, "getpeeraddr");
        println!("peer {}", pport);
        let mut buf = vec![0u8; 4096];
        loop {
            let mut iov = IoVec { buf: buf.as_mut_ptr(), len: buf.len() as u32 };
            let (mut nread, mut oflags) = (0u32, 0u32);
            check(unsafe { sock_recv(c, &mut iov, 1, 0, &mut nread, &mut oflags) }, "recv");
            if nread == 0 {
                break;
            }
            let mut off = 0u32;
            while off < nread {
                let mut out = IoVec { buf: unsafe { buf.as_mut_ptr().add(off as usize) }, len: nread - off };
                let mut w = 0u32;
                check(unsafe { sock_send(c, &mut out, 1, 0, &mut w) }, "send");
                off += w;
            }
        }
        check(unsafe { sock_shutdown(c, 3) }, "shutdown");
        check(unsafe { fd_close(c) }, "close");
    }
    println!("done");
}

fn udp_server(ip: &mut [u8; 4]) {
    let mut fd = 0u32;
    check(unsafe { sock_open(1, 1, &mut fd) }, "open");
    let port = bind(fd, ip);
    println!("sotype {}", sotype(fd));
    println!("listening {}", port);
    let mut buf = vec![0u8; 1500];
    let mut from = [0u8; 128];
    let mut faddr = WasiAddress { buf: from.as_mut_ptr(), size: 128 };
    let mut iov = IoVec { buf: buf.as_mut_ptr(), len: buf.len() as u32 };
    let (mut fport, mut nread, mut oflags) = (0u32, 0u32, 0u32);
    check(unsafe { sock_recv_from(fd, &mut iov, 1, &mut faddr, 0, &mut fport, &mut nread, &mut oflags) }, "recv_from");
    if from[0] != 1 {
        println!("error recv_from family {}", from[0]);
        exit(1);
    }
    println!("from {}", fport);
    let mut out = IoVec { buf: buf.as_mut_ptr(), len: nread };
    let mut w = 0u32;
    check(unsafe { sock_send_to(fd, &mut out, 1, &mut faddr, fport, 0, &mut w) }, "send_to");
    println!("echoed {}", w);
}

fn main() {
    let args: Vec<String> = env::args().collect();
    match (args.get(1).map(|s| s.as_str()), args.len()) {
        (Some("tcp-server"), 4) => {
            let n = args[3].parse().unwrap_or(1);
            tcp_server(&mut parse_v4(&args[2]), n)
        }
        (Some("udp-server"), 3) => udp_server(&mut parse_v4(&args[2])),
        _ => {
            println!("error usage");
            exit(2)
        }
    }
}
