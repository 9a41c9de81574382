//! files exercises the file system functions in a preopened directory the
//! way ordinary Rust code does (std::fs), printing "ok STEP" for each check
//! that passed and "FAIL STEP: why" for each that did not; it exits 1 if
//! anything failed. Same steps and results as the Go version. What stable
//! std cannot do on wasm32-wasi (create a symlink, read nlink/inode, set
//! times) goes through the preview1 imports directly, as a std-only program
//! would.
//!
//!     files DIR N
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::wasi::io::AsRawFd;
use std::time::{Duration, UNIX_EPOCH};

mod wasi {
    /// filestat: dev, ino, filetype (u8, padded), nlink, size, atim, mtim, ctim.
    #[repr(C)]
    #[derive(Default, Debug)]
    pub struct Filestat {
        pub dev: u64,
        pub ino: u64,
        pub filetype: u8,
        pub nlink: u64,
        pub size: u64,
        pub atim: u64,
        pub mtim: u64,
        pub ctim: u64,
    }
    pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;
    pub const FSTFLAGS_ATIM: u32 = 1;
    pub const FSTFLAGS_MTIM: u32 = 4;

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn path_symlink(old: *const u8, old_len: usize, fd: u32, new: *const u8, new_len: usize) -> u16;
        pub fn path_filestat_get(fd: u32, flags: u32, path: *const u8, path_len: usize, buf: *mut Filestat) -> u16;
        pub fn fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, fst_flags: u32) -> u16;
    }
}

struct Checker {
    failed: bool,
}

impl Checker {
    fn expect(&mut self, step: &str, cond: bool, why: String) -> bool {
        if cond {
            println!("ok {}", step);
        } else {
            self.failed = true;
            println!("FAIL {}: {}", step, why);
        }
        cond
    }
}

/// stat_at stats name relative to the directory dir, following symlinks.
fn stat_at(dir: &File, name: &str) -> Result<wasi::Filestat, u16> {
    let mut st = wasi::Filestat::default();
    let errno = unsafe { wasi::path_filestat_get(dir.as_raw_fd() as u32, wasi::LOOKUP_SYMLINK_FOLLOW, name.as_ptr(), name.len(), &mut st) };
    if errno == 0 {
        Ok(st)
    } else {
        Err(errno)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = format!("{}/work", args[1]);
    let n: usize = args[2].parse().unwrap();
    let p = |name: &str| format!("{}/{}", dir, name);
    let mut c = Checker { failed: false };

    let r = fs::create_dir(&dir);
    if !c.expect("mkdir", r.is_ok(), format!("{:?}", r)) {
        std::process::exit(1);
    }
    let dirf = File::open(&dir).unwrap();

    let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(p("a.txt"));
    if !c.expect("create", f.is_ok(), format!("{:?}", f)) {
        std::process::exit(1);
    }
    let mut f = f.unwrap();
    let r = f.write_all(b"hello, world\n");
    c.expect("write", r.is_ok(), format!("{:?}", r));
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut s = String::new();
    let r = f.read_to_string(&mut s);
    c.expect("read", r.is_ok() && s == "hello, world\n", format!("{:?} {:?}", r, s));

    let off = f.seek(SeekFrom::Start(7));
    let mut buf = [0u8; 5];
    let r = f.read_exact(&mut buf);
    c.expect("seek", off.as_ref().ok() == Some(&7) && r.is_ok() && &buf == b"world", format!("{:?} {:?} {:?}", off, r, buf));
    let off = f.stream_position();
    c.expect("tell", off.as_ref().ok() == Some(&12), format!("{:?}", off));
    let off = f.seek(SeekFrom::End(-6));
    c.expect("seek_end", off.as_ref().ok() == Some(&7), format!("{:?}", off));

    let r = f.set_len(5);
    let size = f.metadata().map(|m| m.len());
    c.expect("truncate", r.is_ok() && size.as_ref().ok() == Some(&5), format!("{:?} {:?}", r, size));
    let r = f.set_len(100);
    let size = f.metadata().map(|m| m.len());
    let b = fs::read(p("a.txt")).unwrap_or_default();
    c.expect(
        "extend",
        r.is_ok() && size.as_ref().ok() == Some(&100) && b.len() == 100 && &b[..5] == b"hello" && b[5..].iter().all(|&x| x == 0),
        format!("{:?} {:?} len {}", r, size, b.len()),
    );
    let r1 = f.set_len(0);
    let r2 = f.seek(SeekFrom::Start(0)).and_then(|_| f.write_all(b"hello, world\n"));
    c.expect("rewrite", r1.is_ok() && r2.is_ok(), format!("{:?} {:?}", r1, r2));
    let r = f.sync_all();
    c.expect("sync", r.is_ok(), format!("{:?}", r));
    let r = f.sync_data();
    c.expect("datasync", r.is_ok(), format!("{:?}", r));
    drop(f);
    c.expect("close", true, String::new());

    match OpenOptions::new().append(true).open(p("a.txt")) {
        Ok(mut f) => {
            c.expect("open_append", true, String::new());
            let _ = f.seek(SeekFrom::Start(0));
            let r = f.write_all(b"more");
            drop(f);
            let s = fs::read_to_string(p("a.txt")).unwrap_or_default();
            c.expect("append", r.is_ok() && s == "hello, world\nmore", format!("{:?} {:?}", r, s));
        }
        Err(e) => {
            c.expect("open_append", false, format!("{:?}", e));
        }
    }

    let r = OpenOptions::new().write(true).create_new(true).open(p("a.txt"));
    c.expect("excl", matches!(&r, Err(e) if e.kind() == ErrorKind::AlreadyExists), format!("{:?}", r));
    let r = File::open(p("missing"));
    c.expect("enoent", matches!(&r, Err(e) if e.kind() == ErrorKind::NotFound), format!("{:?}", r));

    let r = fs::rename(p("a.txt"), p("b.txt"));
    let gone = matches!(fs::metadata(p("a.txt")), Err(e) if e.kind() == ErrorKind::NotFound);
    let s = fs::read_to_string(p("b.txt")).unwrap_or_default();
    c.expect("rename", r.is_ok() && gone && s == "hello, world\nmore", format!("{:?} gone {} {:?}", r, gone, s));

    let r = fs::hard_link(p("b.txt"), p("c.txt"));
    let (s1, s2) = (stat_at(&dirf, "b.txt"), stat_at(&dirf, "c.txt"));
    let ok = match (&s1, &s2) {
        (Ok(a), Ok(b)) => a.nlink == 2 && a.ino == b.ino && a.dev == b.dev,
        _ => false,
    };
    c.expect("link", r.is_ok() && ok, format!("{:?} {:?} {:?}", r, s1, s2));

    let (old, new) = ("b.txt", "s");
    let errno = unsafe { wasi::path_symlink(old.as_ptr(), old.len(), dirf.as_raw_fd() as u32, new.as_ptr(), new.len()) };
    let target = fs::read_link(p("s"));
    c.expect(
        "symlink",
        errno == 0 && target.as_ref().map(|t| t.to_str() == Some("b.txt")).unwrap_or(false),
        format!("errno {} {:?}", errno, target),
    );
    let lst = fs::symlink_metadata(p("s"));
    let st = fs::metadata(p("s"));
    let ok = match (&lst, &st) {
        (Ok(l), Ok(s)) => l.file_type().is_symlink() && s.is_file() && s.len() == 17,
        _ => false,
    };
    c.expect("lstat", ok, format!("{:?} {:?}", lst, st));
    let s = fs::read_to_string(p("s"));
    c.expect("follow", s.as_deref().ok() == Some("hello, world\nmore"), format!("{:?}", s));

    let r = fs::remove_file(p("c.txt"));
    let st = stat_at(&dirf, "b.txt");
    c.expect("unlink", r.is_ok() && st.as_ref().map(|s| s.nlink == 1).unwrap_or(false), format!("{:?} {:?}", r, st));

    let r = fs::create_dir(p("d"));
    let st = fs::metadata(p("d"));
    c.expect("mkdir_sub", r.is_ok() && st.as_ref().map(|s| s.is_dir()).unwrap_or(false), format!("{:?} {:?}", r, st));
    let _ = fs::write(p("d/x"), b"");
    let r = fs::remove_dir(p("d"));
    // ENOTEMPTY is WASI errno 55.
    c.expect("rmdir_notempty", matches!(&r, Err(e) if e.raw_os_error() == Some(55)), format!("{:?}", r));
    let _ = fs::remove_file(p("d/x"));
    let r = fs::remove_dir(p("d"));
    let gone = matches!(fs::metadata(p("d")), Err(e) if e.kind() == ErrorKind::NotFound);
    c.expect("rmdir", r.is_ok() && gone, format!("{:?} gone {}", r, gone));

    let _ = fs::write(p("times.txt"), b"t");
    let atim: u64 = 1_000_000_000_500_000_000;
    let mtim: u64 = 1_234_567_890_123_456_789;
    // What File::set_times does in later Rust versions. (A directory fd
    // from File::open lacks the path_filestat_set_times right.)
    let errno = match File::open(p("times.txt")) {
        Ok(tf) => unsafe { wasi::fd_filestat_set_times(tf.as_raw_fd() as u32, atim, mtim, wasi::FSTFLAGS_ATIM | wasi::FSTFLAGS_MTIM) },
        Err(e) => e.raw_os_error().unwrap_or(-1) as u16,
    };
    let md = fs::metadata(p("times.txt"));
    let want = |ns: u64| Some(UNIX_EPOCH + Duration::from_nanos(ns));
    let ok = match &md {
        Ok(m) => m.modified().ok() == want(mtim) && m.accessed().ok() == want(atim),
        _ => false,
    };
    c.expect("times", errno == 0 && ok, format!("errno {} {:?}", errno, md.map(|m| (m.accessed(), m.modified()))));

    let r = fs::create_dir(p("big"));
    c.expect("mkdir_big", r.is_ok(), format!("{:?}", r));
    for i in 0..n {
        if let Err(e) = File::create(p(&format!("big/f{:05}", i))) {
            c.expect("create_many", false, format!("{:?}", e));
            break;
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    match fs::read_dir(p("big")) {
        Ok(rd) => {
            c.expect("opendir", true, String::new());
            for e in rd {
                match e {
                    Ok(e) => *seen.entry(e.file_name().to_string_lossy().into_owned()).or_default() += 1,
                    Err(e) => {
                        c.expect("readdir_end", false, format!("{:?}", e));
                        break;
                    }
                }
            }
        }
        Err(e) => {
            c.expect("opendir", false, format!("{:?}", e));
        }
    }
    let bad = (0..n).filter(|i| seen.get(&format!("f{:05}", i)) != Some(&1)).count();
    c.expect("readdir", bad == 0 && seen.len() == n, format!("{} names wrong, {} seen, want {}", bad, seen.len(), n));

    if c.failed {
        std::process::exit(1);
    }
    println!("done");
}
