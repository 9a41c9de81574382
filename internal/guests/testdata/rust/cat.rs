//! cat copies stdin to stdout, byte for byte, and reports the count on
//! stderr.
use std::io::{self, Write};

fn main() {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match io::copy(&mut stdin.lock(), &mut out) {
        Ok(n) => {
            out.flush().unwrap();
            eprintln!("copied {}", n);
        }
        Err(e) => {
            eprintln!("cat: {}", e);
            std::process::exit(1);
        }
    }
}
