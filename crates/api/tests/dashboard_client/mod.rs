#![allow(dead_code)]
//! A browser's side of the dashboard over plain HTTP, for `dashboard_pages.rs`: it keeps the
//! cookies it is given (by hand: reqwest's cookie store is not enabled here), follows no
//! redirect, and reads the CSRF token out of a page.

use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser's view: its cookies, kept by hand (reqwest's cookie store is not enabled here).
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
    /// Sent with every request (as a proxy in front of trunkline would add them).
    pub headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: client(),
            cookies: vec![],
            headers: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, resp: &reqwest::Response) -> Vec<String> {
        let mut raw = vec![];
        for v in resp.headers().get_all(SET_COOKIE) {
            let s = v.to_str().unwrap().to_owned();
            let (pair, _) = s.split_once(';').unwrap_or((&s, ""));
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
            raw.push(s);
        }
        raw
    }

    pub async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header());
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.text().await.unwrap(), headers)
    }

    pub async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.text().await.unwrap(), headers)
    }

    /// The value of the first hidden `csrf` field in a page.
    pub fn csrf_of(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    }

    pub async fn sign_in(&mut self, key: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let (status, page, _) = self.get("/ui/sign-in").await;
        assert_eq!(status, 200);
        let csrf = Self::csrf_of(&page);
        self.post("/ui/sign-in", &[("csrf", &csrf), ("api_key", key)], None)
            .await
    }

    pub async fn csrf(&mut self) -> String {
        let (status, page, _) = self.get("/ui/trunks/new").await;
        assert_eq!(status, 200, "{page}");
        Self::csrf_of(&page)
    }
}
