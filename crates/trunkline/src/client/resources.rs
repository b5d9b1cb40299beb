//! The API's configuration objects as data: where each lives, how its list reads, and how
//! its files are translated. `create|list|get|update|delete` are one code path for all of
//! them, so an object the API gains (numbers, provider accounts) is one more `Resource` and
//! one more subcommand in `mod.rs`.

use super::api::{Answer, Api};
use super::input::{read_object, untranslatable};
use super::lk_files::{self, Translate};
use super::output::{at, print, Column, View};
use crate::failure::Failure;
use clap::Subcommand;
use serde_json::Value;

pub struct Resource {
    /// How messages name one ("inbound trunk").
    pub noun: &'static str,
    /// `POST` here creates one.
    pub create: &'static str,
    /// `GET` here lists them (`data` is an array).
    pub list: &'static str,
    /// For a paged list (`data` is `{"<this>": […], "next_cursor": …}`), the items' field:
    /// every page is read, and the command shows them all as one array.
    pub paged_items: Option<&'static str>,
    /// `GET/PATCH/DELETE` on this path plus `/{id}`.
    pub item: &'static str,
    /// The id's field in answers (`trunk_id`).
    pub id_field: &'static str,
    pub columns: &'static [Column],
    pub create_body: Translate,
    pub update_body: Translate,
}

#[derive(Subcommand)]
pub enum CrudCommand {
    /// Create one from a JSON file (`-` reads stdin): LiveKit's `lk` file, or the API's own
    /// request body.
    Create {
        /// The JSON file, or `-` for stdin.
        file: String,
    },
    /// List them.
    List,
    /// Show one.
    Get { id: String },
    /// Change one: the file's fields are changed, the others kept (`null` clears one). An
    /// `lk` file is read as the fields it sets.
    Update {
        id: String,
        /// The JSON file, or `-` for stdin.
        file: String,
    },
    /// Delete one.
    Delete { id: String },
}

pub async fn run(api: &Api, json: bool, r: &Resource, command: CrudCommand) -> Result<(), Failure> {
    match command {
        CrudCommand::Create { file } => {
            let body = translate(r.create_body, &file)?;
            create(api, json, r, &body).await?;
        }
        CrudCommand::List => {
            let answer = list_all(api, r).await?;
            let view = View::List {
                columns: r.columns,
                pointer: "",
            };
            print(&answer, json, view);
        }
        CrudCommand::Get { id } => {
            let answer = api.get(api.url(r.item, Some(&id))).await?;
            print(&answer, json, View::Details);
        }
        CrudCommand::Update { id, file } => {
            let body = translate(r.update_body, &file)?;
            let answer = api.patch(api.url(r.item, Some(&id)), &body).await?;
            print(&answer, json, View::Details);
        }
        CrudCommand::Delete { id } => {
            let answer = api.delete(api.url(r.item, Some(&id))).await?;
            let id = answer.data[r.id_field].as_str().unwrap_or(&id).to_owned();
            print(
                &answer,
                json,
                View::Sentence(format!("Deleted {} {id}.", r.noun)),
            );
        }
    }
    Ok(())
}

/// `POST` of a body already read (and, for commands with flags, completed by them).
pub async fn create(api: &Api, json: bool, r: &Resource, body: &Value) -> Result<(), Failure> {
    let answer = api.post(api.url(r.create, None), body).await?;
    print(&answer, json, View::Details);
    Ok(())
}

/// The whole list: a paged one is read page after page (200 at a time) until the last.
async fn list_all(api: &Api, r: &Resource) -> Result<Answer, Failure> {
    let Some(field) = r.paged_items else {
        return api.get(api.url(r.list, None)).await;
    };
    let mut items = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut url = api.url(r.list, None);
        url.query_pairs_mut().append_pair("limit", "200");
        if let Some(c) = &cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let page = api.get(url).await?;
        if let Some(more) = page.data[field].as_array() {
            items.extend(more.iter().cloned());
        }
        match page.data["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let data = Value::Array(items);
    Ok(Answer {
        raw: data.to_string(),
        data,
    })
}

fn translate(how: Translate, file: &str) -> Result<Value, Failure> {
    how(read_object(file)?).map_err(|e| untranslatable(file, e))
}

pub const OUTBOUND: Resource = Resource {
    noun: "outbound trunk",
    create: "/sip/create-outbound-trunk",
    list: "/sip/list",
    paged_items: None,
    item: "/sip/trunks",
    id_field: "trunk_id",
    columns: &[
        Column {
            header: "TRUNK ID",
            cell: |v| at(v, "/trunk_id"),
        },
        Column {
            header: "NAME",
            cell: |v| at(v, "/trunk_name"),
        },
        Column {
            header: "TYPE",
            cell: |v| at(v, "/trunk_type"),
        },
        Column {
            header: "CREATED (UTC)",
            cell: |v| at(v, "/trunk_created_at"),
        },
    ],
    create_body: lk_files::outbound_create,
    update_body: lk_files::outbound_update,
};

pub const INBOUND: Resource = Resource {
    noun: "inbound trunk",
    create: "/sip/inbound-trunks",
    list: "/sip/inbound-trunks",
    paged_items: Some("trunks"),
    item: "/sip/inbound-trunks",
    id_field: "trunk_id",
    columns: &[
        Column {
            header: "TRUNK ID",
            cell: |v| at(v, "/trunk_id"),
        },
        Column {
            header: "NAME",
            cell: |v| at(v, "/name"),
        },
        Column {
            header: "NUMBERS",
            cell: |v| at(v, "/numbers"),
        },
        Column {
            header: "ALLOWED ADDRESSES",
            cell: |v| at(v, "/allowed_addresses"),
        },
        Column {
            header: "AUTH",
            cell: |v| {
                let user = v["auth_username"].as_str().unwrap_or("");
                if user.is_empty() {
                    "-".into()
                } else {
                    super::api::clean(user)
                }
            },
        },
        Column {
            header: "STATUS",
            cell: |v| at(v, "/provisioning/status"),
        },
    ],
    create_body: lk_files::as_is,
    update_body: lk_files::inbound_update,
};

pub const DISPATCH: Resource = Resource {
    noun: "dispatch rule",
    create: "/sip/dispatch-rules",
    list: "/sip/dispatch-rules",
    paged_items: Some("rules"),
    item: "/sip/dispatch-rules",
    id_field: "rule_id",
    columns: &[
        Column {
            header: "RULE ID",
            cell: |v| at(v, "/rule_id"),
        },
        Column {
            header: "NAME",
            cell: |v| at(v, "/name"),
        },
        Column {
            header: "RULE",
            cell: |v| {
                let kind = at(v, "/rule/type");
                match v["rule"]["room_prefix"]
                    .as_str()
                    .or(v["rule"]["room_name"].as_str())
                {
                    Some(room) => format!("{kind}:{}", super::api::clean(room)),
                    None => kind,
                }
            },
        },
        Column {
            header: "TRUNKS",
            cell: |v| match v["trunk_ids"].as_array() {
                Some(ids) if !ids.is_empty() => at(v, "/trunk_ids"),
                _ => "all".into(),
            },
        },
        Column {
            header: "AGENTS",
            cell: |v| {
                let names: Vec<Value> = v["room_config"]["agents"]
                    .as_array()
                    .map(|a| a.iter().map(|a| a["agent_name"].clone()).collect())
                    .unwrap_or_default();
                super::output::text(&Value::Array(names))
            },
        },
        Column {
            header: "STATUS",
            cell: |v| at(v, "/provisioning/status"),
        },
    ],
    create_body: lk_files::as_is,
    update_body: lk_files::dispatch_update,
};
