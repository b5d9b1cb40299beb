//! Lists the API answers a page at a time (`{"<items>": […], "next_cursor": …}`): one page
//! with the hint for the next, or with `--all` every page, printed as one table or (`--json`)
//! as one page object whose items are each as the server wrote it, and no `next_cursor`.

use super::api::{Answer, Api};
use super::output::{print, Column, View};
use crate::failure::Failure;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;

/// `--limit`: the API's page size rule, checked before anything is sent.
pub fn page_limit(raw: &str) -> Result<u32, String> {
    raw.trim()
        .parse()
        .ok()
        .filter(|n| (1..=200).contains(n))
        .ok_or_else(|| format!("--limit must be a whole number from 1 to 200; got {raw:?}"))
}

pub struct Paged {
    /// How messages name the list (`/calls`, `/provider-accounts/{id}/events`).
    pub path: &'static str,
    /// The field of the page that holds the items (`calls`).
    pub items: &'static str,
    pub columns: &'static [Column],
    /// What the items are, for the hint to the next page (`calls`).
    pub noun: &'static str,
}

impl Paged {
    /// The list at `base` (the API's URL of `path`) with `filters` as its query.
    pub async fn print(
        &self,
        api: &Api,
        base: reqwest::Url,
        json: bool,
        filters: &[(&str, String)],
        mut cursor: Option<String>,
        all: bool,
    ) -> Result<(), Failure> {
        let pointer = format!("/{}", self.items);
        let view = || View::List {
            columns: self.columns,
            pointer: &pointer,
        };
        let mut raws: Vec<String> = vec![];
        let mut data: Vec<Value> = vec![];
        loop {
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in filters {
                    q.append_pair(k, v);
                }
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let answer = api.get(url).await?;
            if !all {
                print(&answer, json, view());
                if let (false, Some(next)) = (json, answer.data["next_cursor"].as_str()) {
                    eprintln!("More {}: repeat with --cursor {next}", self.noun);
                }
                return Ok(());
            }
            let unexpected = |e: &dyn std::fmt::Display| {
                Failure::Runtime(format!(
                    "GET {} answered an unexpected page: {e}",
                    self.path
                ))
            };
            let page: HashMap<String, &RawValue> =
                serde_json::from_str(&answer.raw).map_err(|e| unexpected(&e))?;
            let items: Vec<&RawValue> = match page.get(self.items) {
                Some(raw) => serde_json::from_str(raw.get()).map_err(|e| unexpected(&e))?,
                None => return Err(unexpected(&format!("no {:?}", self.items))),
            };
            raws.extend(items.iter().map(|c| c.get().to_owned()));
            if let Some(more) = answer.data[self.items].as_array() {
                data.extend(more.iter().cloned());
            }
            match answer.data["next_cursor"].as_str() {
                Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_owned()),
                Some(_) => {
                    return Err(Failure::Runtime(format!(
                        "GET {} answered the same cursor twice; stopped",
                        self.path
                    )))
                }
                None => break,
            }
        }
        let answer = Answer {
            raw: format!(
                "{{\"{}\":[{}],\"next_cursor\":null}}",
                self.items,
                raws.join(",")
            ),
            data: json!({ self.items: data }),
        };
        print(&answer, json, view());
        Ok(())
    }
}
