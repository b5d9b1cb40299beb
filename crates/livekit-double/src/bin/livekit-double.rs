//! `livekit-double --listen 127.0.0.1:7880 --api-key K --api-secret S [--webhook-url URL]`:
//! serves the double until killed (Ctrl-C stops it cleanly), for benchmarks and manual
//! poking.

use livekit_double::LiveKitDouble;
use std::io::Write;

const USAGE: &str =
    "usage: livekit-double [--listen ADDR] --api-key KEY --api-secret SECRET [--webhook-url URL]
  --listen       address to bind (default 127.0.0.1:7880)
  --api-key      API key tokens must be issued by (or LIVEKIT_API_KEY)
  --api-secret   secret tokens must be signed with (or LIVEKIT_API_SECRET)
  --webhook-url  where to POST webhooks, signed with the key and secret (default: none)";

struct Args {
    listen: String,
    api_key: String,
    api_secret: String,
    webhook_url: Option<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = "127.0.0.1:7880".to_owned();
    let mut api_key = std::env::var("LIVEKIT_API_KEY").ok();
    let mut api_secret = std::env::var("LIVEKIT_API_SECRET").ok();
    let mut webhook_url = None;
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--api-key" => api_key = Some(value()?),
            "--api-secret" => api_secret = Some(value()?),
            "--webhook-url" => webhook_url = Some(value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    match (api_key, api_secret) {
        (Some(api_key), Some(api_secret)) => Ok(Args {
            listen,
            api_key,
            api_secret,
            webhook_url,
        }),
        _ => Err("--api-key and --api-secret are required".to_owned()),
    }
}

#[tokio::main]
async fn main() {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("livekit-double: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("livekit-double: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    let lk = LiveKitDouble::start_on(listener, &args.api_key, &args.api_secret).await;
    lk.set_webhook_url(args.webhook_url);
    println!("listening on {}", lk.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    lk.shutdown().await;
}
