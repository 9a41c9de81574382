//! poll waits for stdin with a timeout by calling poll_oneoff directly with
//! an fd_read subscription on fd 0 and a relative clock subscription (std
//! has no poll and wasm32-wasi has no threads).
//!
//!     poll FIRST_MS SECOND_MS
//!
//! Prints "timeout MS" for a wait that timed out, "ready MS" and
//! "data TEXT" when input arrived (see the Go version).
use std::io::{self, Read, Write};
use std::time::Instant;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn poll_oneoff(subs: *const Subscription, events: *mut Event, n: usize, nevents: *mut usize) -> u16;
}

/// A WASI subscription: userdata u64 @0, tag u8 @8, then the clock
/// (id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40) or
/// fd_read (fd u32 @16) body.
#[repr(C, align(8))]
struct Subscription([u8; 48]);

/// A WASI event: userdata u64 @0, errno u16 @8, type u8 @10.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Event([u8; 32]);

const TAG_CLOCK: u8 = 0;
const TAG_FD_READ: u8 = 1;
const CLOCK_MONOTONIC: u32 = 1;

fn fd_read_sub(userdata: u64, fd: u32) -> Subscription {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = TAG_FD_READ;
    s[16..20].copy_from_slice(&fd.to_le_bytes());
    Subscription(s)
}

fn clock_sub(userdata: u64, timeout_ns: u64) -> Subscription {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = TAG_CLOCK;
    s[16..20].copy_from_slice(&CLOCK_MONOTONIC.to_le_bytes());
    s[24..32].copy_from_slice(&timeout_ns.to_le_bytes());
    Subscription(s)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    for &ms in &args[..2] {
        let subs = [fd_read_sub(1, 0), clock_sub(2, ms * 1_000_000)];
        let mut events = [Event([0; 32]); 2];
        let mut n = 0usize;
        let start = Instant::now();
        let errno = unsafe { poll_oneoff(subs.as_ptr(), events.as_mut_ptr(), subs.len(), &mut n) };
        let took = start.elapsed().as_millis();
        if errno != 0 {
            println!("FAIL poll_oneoff errno {}", errno);
            std::process::exit(1);
        }
        let stdin_ready = events[..n].iter().any(|e| u64::from_le_bytes(e.0[0..8].try_into().unwrap()) == 1);
        if !stdin_ready {
            println!("timeout {}", took);
            io::stdout().flush().unwrap();
            continue;
        }
        println!("ready {}", took);
        let mut buf = [0u8; 4096];
        let r = io::stdin().read(&mut buf).unwrap();
        println!("data {}", String::from_utf8_lossy(&buf[..r]).trim_end_matches('\n'));
        return;
    }
}
