//! The reference of bench/api.sh: a bare axum handler that answers GET and POST with a fixed
//! body (the same bytes the real endpoint returns), with no auth, no database, no validation.
//! The ratio of trunkline's rate to this one is what the benchmark reports.

use axum::routing::get;
use axum::Router;
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// File whose bytes every answer carries.
    #[arg(long)]
    body_file: std::path::PathBuf,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let body = bytes::Bytes::from(std::fs::read(&args.body_file).expect("body file"));
    let handler = move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    };
    let app = Router::new().fallback(get(handler.clone()).post(handler));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .expect("bind");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
