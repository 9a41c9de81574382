//! args_env_exit prints its arguments and environment, writes a line to
//! stderr and exits with the code given as its first argument.
//!
//!     args_env_exit CODE [ARGS...]
use std::env;
use std::process;

fn main() {
    let args: Vec<String> = env::args().collect();
    println!("argc {}", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("arg {} [{}]", i, a);
    }
    let mut vars: Vec<String> = env::vars().map(|(k, v)| format!("{}={}", k, v)).collect();
    vars.sort();
    for kv in &vars {
        println!("env [{}]", kv);
    }
    if let Ok(v) = env::var("GREETING") {
        println!("lookup GREETING [{}]", v);
    }
    eprintln!("to stderr");
    let code = match args.get(1) {
        None => 0,
        Some(s) => match s.parse::<i32>() {
            Ok(c) => c,
            Err(_) => {
                eprintln!("bad exit code {:?}", s);
                2
            }
        },
    };
    process::exit(code);
}
