//! clock_random prints what a test needs to check the clocks and the random
//! source (see the Go version): realtime NS, monotonic ok, sleep_ms MS,
//! random HEX twice. std has no random API, so random_get is imported
//! directly, as a std-only program would.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
}

fn main() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("realtime {}", now.as_nanos());

    let start = Instant::now();
    let mut prev = Duration::ZERO;
    let mut ok = "ok";
    for _ in 0..1000 {
        let d = start.elapsed();
        if d < prev {
            ok = "FAIL";
        }
        prev = d;
    }
    println!("monotonic {}", ok);

    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(100));
    println!("sleep_ms {}", t0.elapsed().as_millis());

    for _ in 0..2 {
        let mut b = [0u8; 32];
        let errno = unsafe { random_get(b.as_mut_ptr(), b.len()) };
        if errno != 0 {
            println!("random FAIL errno {}", errno);
            continue;
        }
        let hex: String = b.iter().map(|x| format!("{:02x}", x)).collect();
        println!("random {}", hex);
    }
}
