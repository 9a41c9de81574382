//! idle sleeps for the duration given as its argument (e.g. 3s or 250ms)
//! and exits; std::thread::sleep is one poll_oneoff clock subscription.
use std::time::Duration;

fn main() {
    let arg = std::env::args().nth(1).expect("usage: idle DURATION");
    let d = if let Some(ms) = arg.strip_suffix("ms") {
        Duration::from_millis(ms.parse().unwrap())
    } else {
        Duration::from_secs_f64(arg.trim_end_matches('s').parse().unwrap())
    };
    std::thread::sleep(d);
    println!("done");
}
