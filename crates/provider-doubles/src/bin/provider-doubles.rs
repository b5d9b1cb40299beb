//! `provider-doubles [--twilio ADDR] [--exotel ADDR] [--telnyx ADDR]`: serves the doubles
//! until killed (Ctrl-C stops them cleanly), for staging runs and manual poking. Each prints
//! its URL; point `TRUNKLINE_TWILIO_API_URL` and `TRUNKLINE_TWILIO_TRUNKING_URL`,
//! `TRUNKLINE_EXOTEL_API_URL`, `TRUNKLINE_TELNYX_API_URL` at them.

use provider_doubles::{ExotelDouble, TelnyxDouble, TwilioDouble};
use std::io::Write;

const USAGE: &str =
    "usage: provider-doubles [--twilio ADDR] [--exotel ADDR] [--telnyx ADDR] [credentials]
  --twilio ADDR          serve the Twilio double (e.g. 127.0.0.1:7101)
  --twilio-account SID   its account (default AC00000000000000000000000000000000)
  --twilio-token TOKEN   its Auth Token (default: twilio-double-token)
  --twilio-number E164   a number the account owns (repeatable)
  --exotel ADDR          serve the Exotel double
  --exotel-account SID   (default exoteldouble)
  --exotel-key KEY       (default exotel-double-key)
  --exotel-token TOKEN   (default exotel-double-token)
  --exotel-number E164   an ExoPhone of the account (repeatable)
  --telnyx ADDR          serve the Telnyx double
  --telnyx-key KEY       (default telnyx-double-key)
  --telnyx-number E164   a number the account owns (repeatable)";

#[derive(Default)]
struct Args {
    twilio: Option<String>,
    twilio_account: Option<String>,
    twilio_token: Option<String>,
    twilio_numbers: Vec<String>,
    exotel: Option<String>,
    exotel_account: Option<String>,
    exotel_key: Option<String>,
    exotel_token: Option<String>,
    exotel_numbers: Vec<String>,
    telnyx: Option<String>,
    telnyx_key: Option<String>,
    telnyx_numbers: Vec<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
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
            "--twilio" => a.twilio = Some(value()?),
            "--twilio-account" => a.twilio_account = Some(value()?),
            "--twilio-token" => a.twilio_token = Some(value()?),
            "--twilio-number" => a.twilio_numbers.push(value()?),
            "--exotel" => a.exotel = Some(value()?),
            "--exotel-account" => a.exotel_account = Some(value()?),
            "--exotel-key" => a.exotel_key = Some(value()?),
            "--exotel-token" => a.exotel_token = Some(value()?),
            "--exotel-number" => a.exotel_numbers.push(value()?),
            "--telnyx" => a.telnyx = Some(value()?),
            "--telnyx-key" => a.telnyx_key = Some(value()?),
            "--telnyx-number" => a.telnyx_numbers.push(value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if a.twilio.is_none() && a.exotel.is_none() && a.telnyx.is_none() {
        return Err("name at least one of --twilio, --exotel, --telnyx".into());
    }
    Ok(a)
}

async fn bind(what: &str, addr: &str) -> tokio::net::TcpListener {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("provider-doubles: cannot listen on {addr} for {what}: {e}");
            std::process::exit(1);
        }
    }
}

#[tokio::main]
async fn main() {
    let a = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("provider-doubles: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut twilio = None;
    let mut exotel = None;
    let mut telnyx = None;
    if let Some(addr) = &a.twilio {
        let account = a
            .twilio_account
            .as_deref()
            .unwrap_or("AC00000000000000000000000000000000");
        let d = TwilioDouble::start_on(
            bind("twilio", addr).await,
            account,
            a.twilio_token.as_deref().unwrap_or("twilio-double-token"),
        );
        for n in &a.twilio_numbers {
            d.add_number(n);
        }
        println!("twilio listening on {}", d.url());
        twilio = Some(d);
    }
    if let Some(addr) = &a.exotel {
        let d = ExotelDouble::start_on(
            bind("exotel", addr).await,
            a.exotel_account.as_deref().unwrap_or("exoteldouble"),
            a.exotel_key.as_deref().unwrap_or("exotel-double-key"),
            a.exotel_token.as_deref().unwrap_or("exotel-double-token"),
        );
        for n in &a.exotel_numbers {
            d.add_exophone(n);
        }
        println!("exotel listening on {}", d.url());
        exotel = Some(d);
    }
    if let Some(addr) = &a.telnyx {
        let d = TelnyxDouble::start_on(
            bind("telnyx", addr).await,
            a.telnyx_key.as_deref().unwrap_or("telnyx-double-key"),
        );
        for n in &a.telnyx_numbers {
            d.add_number(n);
        }
        println!("telnyx listening on {}", d.url());
        telnyx = Some(d);
    }
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    if let Some(d) = twilio {
        d.shutdown().await;
    }
    if let Some(d) = exotel {
        d.shutdown().await;
    }
    if let Some(d) = telnyx {
        d.shutdown().await;
    }
}
