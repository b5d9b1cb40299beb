//! The trunk page's settings: periodic health checks (on or off, how often, after how many
//! failures the trunk is down) and call limits (calls per second, concurrent calls). The
//! ranges are the API's (`PUT …/health-check`, `PUT …/call-limits`).

use super::layout::{self, csrf_field, status_badge, Field, InputExtra};
use super::problem::PageError;
use super::session::{FormData, Posted, Session};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use std::str::FromStr;
use trunkline_core::trunk_settings::{
    cps_milli, HEALTH_DOWN_AFTER, HEALTH_INTERVAL_SECS, MAX_CONCURRENT_CALLS,
};
use trunkline_store::{now_micros, HealthRow};

/// Errors of one settings form, by field.
pub type SettingErrors = Vec<(&'static str, String)>;

/// A setting typed in `field`: parsed as `T`, then `accept`ed (range check, conversion); when
/// either fails, `refusal` is noted against the field.
fn setting<T: FromStr, U>(
    form: &FormData,
    field: &'static str,
    accept: impl Fn(T) -> Option<U>,
    refusal: &str,
    errors: &mut SettingErrors,
) -> Option<U> {
    let value = form.get(field).parse::<T>().ok().and_then(accept);
    if value.is_none() {
        errors.push((field, refusal.to_owned()));
    }
    value
}

fn err<'a>(errors: &'a SettingErrors, name: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == name)
        .map(|(_, m)| m.as_str())
}

pub fn health_section(
    session: &Session,
    trunk_id: &str,
    health: Option<&HealthRow>,
    errors: &SettingErrors,
) -> Markup {
    let enabled = health.is_some_and(|h| h.enabled);
    let interval = health.map_or(60, |h| h.interval_secs).to_string();
    let down_after = health.map_or(3, |h| h.down_after).to_string();
    html! {
        h2 #health { "Health checks" }
        @match health {
            Some(h) if h.enabled || h.last_checked_at.is_some() => {
                dl.facts {
                    dt { "Checks" } dd { (if h.enabled { format!("every {} s; down after {} failures in a row", h.interval_secs, h.down_after) } else { "off".to_owned() }) }
                    dt { "State" } dd { (status_badge(&h.state)) }
                    dt { "Failures in a row" } dd { (h.misses) }
                    dt { "Last check" } dd { (layout::opt_time(h.last_checked_at)) }
                    dt { "Last diagnosis" } dd { (h.last_diagnosis.as_deref().unwrap_or("—").replace('_', " ")) }
                    dt { "Last round trip" } dd { (h.last_rtt_us.map(|us| format!("{:.1} ms", us as f64 / 1000.0)).unwrap_or_else(|| "—".into())) }
                }
            }
            _ => p { "Health checks are off for this trunk." }
        }
        form.stack method="post" action={ "/ui/trunks/" (trunk_id) "/health-check" } {
            (csrf_field(session))
            div.field.check {
                input type="checkbox" id="health_enabled" name="enabled" value="on" checked[enabled];
                " "
                label for="health_enabled" { "Check this trunk periodically (SIP OPTIONS)" }
            }
            (Field { name: "interval_seconds", label: "Check every (seconds)", hint: Some("10 to 3600."), error: err(errors, "interval_seconds") }
                .input("text", &interval, InputExtra::default()))
            (Field { name: "down_after", label: "Down after (failures in a row)", hint: Some("1 to 10."), error: err(errors, "down_after") }
                .input("text", &down_after, InputExtra::default()))
            div.actions { button type="submit" { "Save health checks" } }
        }
    }
}

pub fn limits_section(
    session: &Session,
    trunk_id: &str,
    cps: f64,
    conc: i64,
    errors: &SettingErrors,
) -> Markup {
    html! {
        h2 #limits { "Call limits" }
        form.stack method="post" action={ "/ui/trunks/" (trunk_id) "/call-limits" } {
            (csrf_field(session))
            (Field { name: "calls_per_second", label: "Calls per second", hint: Some("0.01 to 1000 (Exotel's 200 a minute is 3.33)."), error: err(errors, "calls_per_second") }
                .input("text", &cps.to_string(), InputExtra::default()))
            (Field { name: "max_concurrent_calls", label: "Concurrent calls", hint: Some("1 to 10000."), error: err(errors, "max_concurrent_calls") }
                .input("text", &conc.to_string(), InputExtra::default()))
            div.actions { button type="submit" { "Save call limits" } }
        }
    }
}

pub async fn save_health(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Posted { form, .. }: Posted,
) -> Result<Response, PageError> {
    let row = super::trunks::owned(&state, &session, &id).await?;
    let mut errors = SettingErrors::new();
    let interval = setting(
        &form,
        "interval_seconds",
        |n: i64| HEALTH_INTERVAL_SECS.contains(&n).then_some(n),
        "Check every must be a whole number of seconds from 10 to 3600",
        &mut errors,
    );
    let down_after = setting(
        &form,
        "down_after",
        |n: i64| HEALTH_DOWN_AFTER.contains(&n).then_some(n),
        "Down after must be a whole number from 1 to 10",
        &mut errors,
    );
    if let (Some(i), Some(d)) = (interval, down_after) {
        let enabled = form.get("enabled") == "on";
        state
            .store
            .set_trunk_health(&row.id, &session.tenant_id, enabled, i, d, now_micros())
            .await?;
        return Ok(layout::see_other(&format!(
            "/ui/trunks/{}?done=health#health",
            row.id
        )));
    }
    super::trunks::settings_refused(&state, &session, &row, errors, SettingErrors::new()).await
}

pub async fn save_limits(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Posted { form, .. }: Posted,
) -> Result<Response, PageError> {
    let row = super::trunks::owned(&state, &session, &id).await?;
    let mut errors = SettingErrors::new();
    let milli = setting(
        &form,
        "calls_per_second",
        cps_milli,
        "Calls per second must be a number from 0.01 to 1000",
        &mut errors,
    );
    let conc = setting(
        &form,
        "max_concurrent_calls",
        |n: i64| MAX_CONCURRENT_CALLS.contains(&n).then_some(n),
        "Concurrent calls must be a whole number from 1 to 10000",
        &mut errors,
    );
    if let (Some(milli), Some(n)) = (milli, conc) {
        state
            .store
            .set_trunk_limits(&row.id, &session.tenant_id, Some(milli), Some(n))
            .await?;
        return Ok(layout::see_other(&format!(
            "/ui/trunks/{}?done=limits#limits",
            row.id
        )));
    }
    super::trunks::settings_refused(&state, &session, &row, SettingErrors::new(), errors).await
}
