//! The Telnyx double: API v2 credential connections, FQDN connections and FQDNs, outbound
//! voice profiles and phone numbers (PROVIDERS.md §4, §5; TX-OAI).
//!
//! Reproduces: Bearer auth (401 `10009` otherwise); JSON bodies; `{data}` answers and lists
//! with `meta{page_number, page_size, total_pages, total_results}` driven by `page[number]` /
//! `page[size]` (at most 250); 201 on create for connections and FQDNs, 200 for outbound
//! voice profiles; PATCH 200; DELETE 200 answering the deleted object; 422 with
//! `source.pointer` for a field's error; 404 `10005`; 429 `10011` with `x-ratelimit-*`
//! headers; `record_type` on every object; 19-digit string ids; `filter[...]` lookups; and
//! the credential connection's echoed password.

mod objects;

use crate::server::Server;
use crate::wire::{Core, Exchange, Fault, Recorded, Reply};
use axum::extract::{Request, State as AxState};
use axum::http::Method;
use axum::response::Response;
use objects::{error, invalid, not_found};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Default)]
struct State {
    credential_connections: Vec<Value>,
    fqdn_connections: Vec<Value>,
    fqdns: Vec<Value>,
    profiles: Vec<Value>,
    numbers: Vec<Value>,
}

impl State {
    fn collection(&mut self, name: &str) -> Option<&mut Vec<Value>> {
        Some(match name {
            "credential_connections" => &mut self.credential_connections,
            "fqdn_connections" => &mut self.fqdn_connections,
            "fqdns" => &mut self.fqdns,
            "outbound_voice_profiles" => &mut self.profiles,
            "phone_numbers" => &mut self.numbers,
            _ => return None,
        })
    }

    /// Removes an object as Telnyx does: a connection's FQDN records go with it, and the
    /// numbers routed to it are left on no connection.
    fn remove(&mut self, collection: &str, id: &str) -> Option<Value> {
        let c = self.collection(collection)?;
        let pos = c.iter().position(|o| o["id"] == id)?;
        let removed = c.remove(pos);
        if collection == "fqdn_connections" {
            self.fqdns.retain(|f| f["connection_id"] != id);
        }
        for n in &mut self.numbers {
            if n["connection_id"] == id {
                n["connection_id"] = Value::Null;
                n["connection_name"] = Value::Null;
            }
        }
        Some(removed)
    }

    fn connection_name(&self, id: &str) -> Option<String> {
        self.credential_connections
            .iter()
            .chain(&self.fqdn_connections)
            .find(|c| c["id"] == id)
            .map(|c| c["connection_name"].as_str().unwrap_or_default().to_owned())
    }
}

struct Shared {
    api_key: String,
    state: Mutex<State>,
    core: Core,
    /// One-shot faults for the next request of a method to a path (`POST /v2/fqdns`).
    targeted: Mutex<Vec<(String, String, Fault)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Handle on a running Telnyx double; clones share the server and state.
#[derive(Clone)]
pub struct TelnyxDouble {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

impl std::fmt::Debug for TelnyxDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelnyxDouble")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl TelnyxDouble {
    pub async fn start(api_key: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::start_on(listener, api_key)
    }

    pub fn start_on(listener: TcpListener, api_key: &str) -> Self {
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            state: Mutex::default(),
            core: Core::default(),
            targeted: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        Self {
            shared,
            server: Arc::new(Server::start(listener, app)),
        }
    }

    /// `http://127.0.0.1:PORT`: the value of `TRUNKLINE_TELNYX_API_URL` (`/v2` is the path).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Gives the account a number (bought elsewhere); returns its id.
    pub fn add_number(&self, e164: &str) -> String {
        let id = objects::new_id();
        let mut n = json!({
            "id": id, "record_type": "phone_number", "phone_number": e164, "status": "active",
            "connection_id": null, "connection_name": null, "tags": [],
        });
        objects::stamp(&mut n, true);
        lock(&self.shared.state).numbers.push(n);
        id
    }

    /// Every object of a collection (`credential_connections`, `fqdn_connections`, `fqdns`,
    /// `outbound_voice_profiles`, `phone_numbers`), as served.
    pub fn objects(&self, collection: &str) -> Vec<Value> {
        lock(&self.shared.state)
            .collection(collection)
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Deletes an object behind the client's back, as a DELETE would. Returns whether it
    /// existed.
    pub fn delete_out_of_band(&self, collection: &str, id: &str) -> bool {
        lock(&self.shared.state).remove(collection, id).is_some()
    }

    /// Sets one top-level field of an object behind the client's back (drift).
    pub fn edit_out_of_band(&self, collection: &str, id: &str, field: &str, value: Value) -> bool {
        let mut s = lock(&self.shared.state);
        let Some(c) = s.collection(collection) else {
            return false;
        };
        match c.iter_mut().find(|o| o["id"] == id) {
            Some(o) => {
                o[field] = value;
                true
            }
            None => false,
        }
    }

    /// The next request answers `fault` instead (FIFO, one each).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.core.push_fault(fault);
    }

    /// The next `method` request to `path` (e.g. `POST`, `/v2/credential_connections`)
    /// answers `fault` instead, whatever comes before it: a failure part-way through a
    /// sequence of calls.
    pub fn fail_next(&self, method: &str, path: &str, fault: Fault) {
        lock(&self.shared.targeted).push((method.to_owned(), path.to_owned(), fault));
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.core.set_fault(fault);
    }

    pub fn set_latency(&self, d: Duration) {
        self.shared.core.set_latency(d);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.core.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.core.clear_requests();
    }

    pub async fn outage(&self) {
        self.server.stop().await;
    }

    pub async fn resume(&self) {
        self.server
            .restart()
            .await
            .expect("rebind the double's address");
    }

    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

fn fault_reply(f: &Fault) -> Reply {
    match f {
        Fault::RateLimited { retry_after_secs } => {
            let r = error(
                429,
                "10011",
                "Too many requests",
                "You have exceeded the maximum number of allowed requests.",
                None,
            )
            .header("x-ratelimit-limit", "100")
            .header("x-ratelimit-remaining", "0");
            match retry_after_secs {
                Some(s) => r.header("x-ratelimit-reset", s.to_string()),
                None => r,
            }
        }
        Fault::Status(s) => error(
            *s,
            "10007",
            "Unexpected error",
            "An unexpected error occured.",
            None,
        ),
        Fault::Hang(_) => error(504, "10007", "Unexpected error", "Gateway timeout.", None),
    }
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let ex = match Exchange::read(req).await {
        Ok(ex) => ex,
        Err(resp) => return resp,
    };
    {
        let mut targeted = lock(&shared.targeted);
        if let Some(i) = targeted
            .iter()
            .position(|(m, p, _)| *m == ex.method.as_str() && *p == ex.path)
        {
            let (_, _, fault) = targeted.remove(i);
            shared.core.push_fault(fault);
        }
    }
    let s2 = shared.clone();
    shared
        .core
        .around(ex, fault_reply, move |ex| {
            if ex.bearer().as_deref() != Some(s2.api_key.as_str()) {
                return error(
                    401,
                    "10009",
                    "Authentication failed",
                    "The API key looks malformed. Check that you copied it correctly.",
                    None,
                );
            }
            let segs: Vec<&str> = ex.segs.iter().map(String::as_str).collect();
            let mut s = lock(&s2.state);
            match segs.as_slice() {
                ["v2", collection] => collection_route(&mut s, ex, collection),
                ["v2", collection, id] => instance_route(&mut s, ex, collection, id),
                _ => Err(not_found()),
            }
            .unwrap_or_else(|e| e)
        })
        .await
}

fn body(ex: &Exchange) -> Result<Map<String, Value>, Reply> {
    if !ex.is_content_type("application/json") {
        return Err(error(
            400,
            "10015",
            "Bad Request",
            "Content-Type must be application/json",
            None,
        ));
    }
    match serde_json::from_slice::<Value>(&ex.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(
            400,
            "10015",
            "Bad Request",
            "The request body is not a JSON object",
            None,
        )),
    }
}

fn page_params(ex: &Exchange) -> Result<(usize, usize), Reply> {
    let number = match ex.q("page[number]") {
        None => 1,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid("/page/number", "page[number] must be at least 1"))?,
    };
    let size = match ex.q("page[size]") {
        None => 250,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=250).contains(n))
            .ok_or_else(|| invalid("/page/size", "page[size] must be from 1 to 250"))?,
    };
    Ok((number, size))
}

fn collection_route(s: &mut State, ex: &Exchange, collection: &str) -> Result<Reply, Reply> {
    let ovp_ids: Vec<Value> = s.profiles.iter().map(|p| p["id"].clone()).collect();
    let ovp_exists = |id: &str| ovp_ids.iter().any(|p| p == id);
    match ex.method {
        Method::GET => {
            let (number, size) = page_params(ex)?;
            let filter = |o: &&Value| -> bool {
                ex.query
                    .iter()
                    .filter(|(k, _)| k.starts_with("filter["))
                    .all(|(k, v)| match k.as_str() {
                        "filter[connection_name][contains]" => o["connection_name"]
                            .as_str()
                            .is_some_and(|n| n.contains(v.as_str())),
                        "filter[connection_id]" => o["connection_id"] == v.as_str(),
                        "filter[phone_number]" => {
                            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
                            o["phone_number"]
                                .as_str()
                                .is_some_and(|n| n.contains(&digits))
                        }
                        _ => true,
                    })
            };
            if let Some(v) = ex.q("filter[phone_number]") {
                if v.chars().filter(char::is_ascii_digit).count() < 3 {
                    return Err(invalid(
                        "/filter/phone_number",
                        "filter[phone_number] needs at least 3 digits",
                    ));
                }
            }
            let all: Vec<Value> = s
                .collection(collection)
                .ok_or_else(not_found)?
                .iter()
                .filter(filter)
                .cloned()
                .collect();
            let total = all.len();
            let data: Vec<Value> = all
                .into_iter()
                .skip((number - 1) * size)
                .take(size)
                .collect();
            Ok(Reply::json(
                200,
                json!({"data": data, "meta": {"page_number": number, "page_size": size,
                    "total_pages": total.div_ceil(size), "total_results": total}}),
            ))
        }
        Method::POST => {
            let b = body(ex)?;
            let (obj, status) = match collection {
                "credential_connections" => {
                    objects::known_fields(&b, objects::CREDENTIAL_FIELDS)?;
                    let users: Vec<Value> = s
                        .credential_connections
                        .iter()
                        .map(|c| c["user_name"].clone())
                        .collect();
                    (
                        objects::credential_connection(
                            None,
                            &b,
                            &|u| users.iter().any(|x| x == u),
                            &ovp_exists,
                        )?,
                        201,
                    )
                }
                "fqdn_connections" => {
                    objects::known_fields(&b, objects::FQDN_FIELDS)?;
                    (objects::fqdn_connection(None, &b, &ovp_exists)?, 201)
                }
                "fqdns" => {
                    objects::known_fields(
                        &b,
                        &["connection_id", "fqdn", "dns_record_type", "port"],
                    )?;
                    let conns: Vec<Value> =
                        s.fqdn_connections.iter().map(|c| c["id"].clone()).collect();
                    (
                        objects::fqdn(None, &b, &|c| conns.iter().any(|x| x == c))?,
                        201,
                    )
                }
                // 200, not 201, per TX-OAI's CreateOutboundVoiceProfile.
                "outbound_voice_profiles" => {
                    objects::known_fields(&b, objects::OVP_FIELDS)?;
                    (objects::outbound_voice_profile(None, &b)?, 200)
                }
                _ => return Err(not_found()),
            };
            s.collection(collection)
                .ok_or_else(not_found)?
                .push(obj.clone());
            Ok(Reply::json(status, json!({"data": obj})))
        }
        _ => Err(not_found()),
    }
}

fn instance_route(
    s: &mut State,
    ex: &Exchange,
    collection: &str,
    id: &str,
) -> Result<Reply, Reply> {
    let pos = s
        .collection(collection)
        .ok_or_else(not_found)?
        .iter()
        .position(|o| o["id"] == id)
        .ok_or_else(not_found)?;
    let current = s.collection(collection).ok_or_else(not_found)?[pos].clone();
    match ex.method {
        Method::GET => Ok(Reply::json(200, json!({"data": current}))),
        Method::DELETE => {
            let removed = s.remove(collection, id).ok_or_else(not_found)?;
            Ok(Reply::json(200, json!({"data": removed})))
        }
        Method::PATCH => {
            let b = body(ex)?;
            let ovp_ids: Vec<Value> = s.profiles.iter().map(|p| p["id"].clone()).collect();
            let ovp_exists = |x: &str| ovp_ids.iter().any(|p| p == x);
            let updated = match collection {
                "credential_connections" => {
                    objects::known_fields(&b, objects::CREDENTIAL_FIELDS)?;
                    let users: Vec<Value> = s
                        .credential_connections
                        .iter()
                        .filter(|c| c["id"] != id)
                        .map(|c| c["user_name"].clone())
                        .collect();
                    objects::credential_connection(
                        Some(&current),
                        &b,
                        &|u| users.iter().any(|x| x == u),
                        &ovp_exists,
                    )?
                }
                "fqdn_connections" => {
                    objects::known_fields(&b, objects::FQDN_FIELDS)?;
                    objects::fqdn_connection(Some(&current), &b, &ovp_exists)?
                }
                "fqdns" => {
                    objects::known_fields(
                        &b,
                        &["connection_id", "fqdn", "dns_record_type", "port"],
                    )?;
                    let conns: Vec<Value> =
                        s.fqdn_connections.iter().map(|c| c["id"].clone()).collect();
                    objects::fqdn(Some(&current), &b, &|c| conns.iter().any(|x| x == c))?
                }
                "outbound_voice_profiles" => {
                    objects::known_fields(&b, objects::OVP_FIELDS)?;
                    objects::outbound_voice_profile(Some(&current), &b)?
                }
                "phone_numbers" => {
                    objects::known_fields(&b, &["connection_id", "tags", "customer_reference"])?;
                    let mut n = current.clone();
                    match b.get("connection_id") {
                        None => {}
                        Some(Value::Null) => {
                            n["connection_id"] = Value::Null;
                            n["connection_name"] = Value::Null;
                        }
                        Some(Value::String(c)) => {
                            let name = s
                                .connection_name(c)
                                .ok_or_else(|| invalid("/connection_id", "Connection not found"))?;
                            n["connection_id"] = json!(c);
                            n["connection_name"] = json!(name);
                        }
                        Some(_) => {
                            return Err(invalid("/connection_id", "connection_id must be a string"))
                        }
                    }
                    if let Some(t) = b.get("tags") {
                        n["tags"] = t.clone();
                    }
                    objects::stamp(&mut n, false);
                    n
                }
                _ => return Err(not_found()),
            };
            s.collection(collection).ok_or_else(not_found)?[pos] = updated.clone();
            Ok(Reply::json(200, json!({"data": updated})))
        }
        _ => Err(not_found()),
    }
}
