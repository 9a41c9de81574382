//! escape tries to leave its preopened directory in every way a path can
//! and prints one line per attempt: "CASE ok" or "CASE errno N" (Rust's
//! raw_os_error is the WASI errno). See the Go version for the links the
//! test creates and for "escape DIR race N". Paths relative to a directory
//! fd (openat(2) style, which std lacks) go through path_open directly.
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::wasi::io::AsRawFd;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn path_open(fd: u32, dirflags: u32, path: *const u8, path_len: usize, oflags: u32, rights_base: u64, rights_inheriting: u64, fdflags: u32, opened: *mut u32) -> u16;
    fn fd_close(fd: u32) -> u16;
}

/// fd_read | fd_seek | fd_tell | fd_filestat_get: enough to read a file.
const RIGHTS_READ: u64 = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 21);

fn openat(dir: &File, name: &str) -> Result<(), u16> {
    let mut fd = 0u32;
    let errno = unsafe { path_open(dir.as_raw_fd() as u32, 1, name.as_ptr(), name.len(), 0, RIGHTS_READ, 0, 0, &mut fd) };
    if errno != 0 {
        return Err(errno);
    }
    unsafe { fd_close(fd) };
    Ok(())
}

fn report<T>(name: &str, r: io::Result<T>) {
    match r {
        Ok(_) => println!("{} ok", name),
        Err(e) => match e.raw_os_error() {
            Some(n) => println!("{} errno {}", name, n),
            None => println!("{} error {}", name, e),
        },
    }
}

fn report_errno(name: &str, r: Result<(), u16>) {
    match r {
        Ok(()) => println!("{} ok", name),
        Err(n) => println!("{} errno {}", name, n),
    }
}

fn race(dir: &str, n: usize) {
    let (mut inside, mut outside, mut errs) = (0, 0, 0);
    for _ in 0..n {
        match fs::read(format!("{}/race/target.txt", dir)) {
            Ok(b) if b == b"inside" => inside += 1,
            Ok(_) => outside += 1,
            Err(_) => errs += 1,
        }
    }
    println!("race inside={} outside={} errors={}", inside, outside, errs);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args[1].clone();
    if args.len() > 3 && args[2] == "race" {
        race(&dir, args[3].parse().unwrap());
        return;
    }
    let p = |name: &str| format!("{}/{}", dir, name);
    let d = match File::open(&dir) {
        Ok(d) => d,
        Err(e) => {
            report::<()>("opendir", Err(e));
            std::process::exit(1);
        }
    };
    report_errno("dotdot", openat(&d, "../outside.txt"));
    report_errno("subdotdot", openat(&d, "sub/../../outside.txt"));
    report_errno("absolute", openat(&d, "/etc/passwd"));
    report("abslink", File::open(p("abslink")));
    report("rellink", File::open(p("rellink")));
    report("dirlink", File::open(p("dirlink/outside.txt")));
    report("loop", File::open(p("loop1")));
    report("create_through", OpenOptions::new().write(true).create(true).open(p("dangling")));
    report("mkdir_through", fs::create_dir(p("dirlink/newdir")));
    report("stat_abslink", fs::metadata(p("abslink")));
    report("lstat_abslink", fs::symlink_metadata(p("abslink")));
    report("inlink", File::open(p("inlink")));
    report_errno("inside", openat(&d, "sub/../inside.txt"));
}
