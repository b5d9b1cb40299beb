//! An HTTP/1.1 load generator for bench/*.sh.
//!
//! Closed loop (`--connections N`): N keep-alive connections, each sending its next request
//! when the last is answered; measures the highest rate. Open loop (`--rate R`): requests are
//! scheduled at a fixed rate and latency is measured from the scheduled time, so a stall counts
//! against every request it delays (no coordinated omission). Prints one JSON line.

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Clone)]
struct Args {
    /// http://host:port/path; several, comma-separated, spread the connections over them
    /// (connection i goes to URL i mod n), as a load balancer in front of instances would.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request body (sent as application/json).
    #[arg(long)]
    body_file: Option<std::path::PathBuf>,
    /// Bearer tokens, one per line; requests rotate through them.
    #[arg(long)]
    keys_file: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Fixed request rate (open loop); 0 = closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests (closed loop).
    #[arg(long, default_value_t = u64::MAX)]
    requests: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, default_value = "")]
    label: String,
}

struct Target {
    host: String,
    path: String,
    method: hyper::Method,
    body: Bytes,
    keys: Vec<String>,
}

async fn connect(host: &str) -> http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.set_nodelay(true).ok();
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends one request; Ok(status) or Err on a transport failure.
async fn send(sender: &mut http1::SendRequest<Full<Bytes>>, t: &Target, n: u64) -> Result<u16, ()> {
    let mut req = hyper::Request::builder()
        .method(t.method.clone())
        .uri(&t.path)
        .header("host", &t.host);
    if !t.keys.is_empty() {
        req = req.header(
            "authorization",
            format!("Bearer {}", t.keys[(n as usize) % t.keys.len()]),
        );
    }
    if !t.body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(t.body.clone())).unwrap();
    sender.ready().await.map_err(|_| ())?;
    let resp = sender.send_request(req).await.map_err(|_| ())?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.map_err(|_| ())?;
    Ok(status)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let body = args
        .body_file
        .as_ref()
        .map(|f| Bytes::from(std::fs::read(f).expect("body file")))
        .unwrap_or_default();
    let keys: Vec<String> = args
        .keys_file
        .as_ref()
        .map(|f| {
            std::fs::read_to_string(f)
                .expect("keys file")
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let targets: Vec<Arc<Target>> = args
        .url
        .split(',')
        .map(|url| {
            let rest = url.trim().strip_prefix("http://").expect("http:// URL");
            let (host, path) = rest
                .split_once('/')
                .map(|(h, p)| (h.to_owned(), format!("/{p}")))
                .unwrap_or((rest.to_owned(), "/".into()));
            Arc::new(Target {
                host,
                path,
                method: args.method.parse().expect("method"),
                body: body.clone(),
                keys: keys.clone(),
            })
        })
        .collect();
    let counter = Arc::new(AtomicU64::new(0));
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;

    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let t = targets[c % targets.len()].clone();
        let (counter, args) = (counter.clone(), args.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(&t.host).await;
            let mut lat = Vec::new();
            let (mut errors, mut non2xx) = (0u64, 0u64);
            // Open loop: this connection's share of a global schedule.
            let interval = (args.rate > 0.0)
                .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate));
            let mut next = start
                + interval
                    .map(|i| i.mul_f64(c as f64 / args.connections as f64))
                    .unwrap_or_default();
            let mut previous_done = start;
            loop {
                let scheduled = match interval {
                    Some(i) => {
                        tokio::time::sleep_until(next.into()).await;
                        let s = next;
                        next += i;
                        // Latency counts from the scheduled time when the server kept this
                        // connection busy past it (no coordinated omission), but not the
                        // lateness of our own timer (tokio's wheel ticks in milliseconds).
                        if previous_done > s {
                            s
                        } else {
                            Instant::now()
                        }
                    }
                    None => Instant::now(),
                };
                if scheduled >= end
                    || (interval.is_some() && next - interval.unwrap_or_default() >= end)
                {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= args.requests {
                    break;
                }
                let result = send(&mut sender, &t, n).await;
                let done = Instant::now();
                previous_done = done;
                if scheduled >= measure_from {
                    match result {
                        Ok(s) if (200..300).contains(&s) => lat.push(done - scheduled),
                        Ok(_) => non2xx += 1,
                        Err(()) => errors += 1,
                    }
                }
                if result.is_err() {
                    sender = connect(&t.host).await;
                }
            }
            (lat, errors, non2xx)
        }));
    }
    let mut lat = Vec::new();
    let (mut errors, mut non2xx) = (0, 0);
    for t in tasks {
        let (l, e, n) = t.await.unwrap();
        lat.extend(l);
        errors += e;
        non2xx += n;
    }
    let elapsed = (Instant::now().min(end) - measure_from.min(Instant::now()))
        .as_secs_f64()
        .max(1e-9);
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{{\"label\":\"{}\",\"requests\":{},\"ok\":{},\"errors\":{},\"non2xx\":{},\"rps\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        args.label,
        // Every request sent, warm-up included (what the servers' CPU time is divided by).
        counter.load(Ordering::Relaxed).min(args.requests),
        lat.len(),
        errors,
        non2xx,
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN),
    );
}
