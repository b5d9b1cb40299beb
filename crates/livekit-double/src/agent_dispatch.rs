//! `livekit.AgentDispatchService` as livekit/livekit answers it
//! (`pkg/service/agent_dispatch_service.go`, `roommanager.go`, `pkg/rtc/room.go`): every
//! method needs `video.roomAdmin` with `video.room` equal to the request's room; Create
//! auto-creates the room (`room_started`); List and Delete need the room to exist.

use crate::auth::Grants;
use crate::room::ensure_admin;
use crate::sip_status::psrpc_error;
use crate::store::guid;
use crate::twirp::TwirpError;
use crate::State;
use livekit_protocol::{
    AgentDispatch, AgentDispatchState, CreateAgentDispatchRequest, DeleteAgentDispatchRequest,
    ListAgentDispatchRequest, ListAgentDispatchResponse,
};

/// `ErrRoomNotFound` from the room manager.
fn room_not_found() -> TwirpError {
    psrpc_error("not_found", "requested room does not exist")
}

pub(crate) fn create(
    s: &mut State,
    g: Option<&Grants>,
    req: CreateAgentDispatchRequest,
) -> Result<AgentDispatch, TwirpError> {
    ensure_admin(g, &req.room)?;
    let dispatch = AgentDispatch {
        id: guid("AD_"),
        agent_name: req.agent_name,
        room: req.room.clone(),
        metadata: req.metadata,
        restart_policy: req.restart_policy,
        deployment: req.deployment,
        attributes: req.attributes,
        // `createAgentDispatch`: created_at in nanoseconds.
        state: Some(AgentDispatchState {
            created_at: crate::store::now_ms() * 1_000_000,
            ..Default::default()
        }),
    };
    s.room_or_create(&req.room)
        .dispatches
        .push(dispatch.clone());
    Ok(dispatch)
}

pub(crate) fn list(
    s: &mut State,
    g: Option<&Grants>,
    req: ListAgentDispatchRequest,
) -> Result<ListAgentDispatchResponse, TwirpError> {
    ensure_admin(g, &req.room)?;
    let room = s.rooms.get(&req.room).ok_or_else(room_not_found)?;
    let agent_dispatches = room
        .dispatches
        .iter()
        .filter(|d| req.dispatch_id.is_empty() || d.id == req.dispatch_id)
        .cloned()
        .collect();
    Ok(ListAgentDispatchResponse { agent_dispatches })
}

pub(crate) fn delete(
    s: &mut State,
    g: Option<&Grants>,
    req: DeleteAgentDispatchRequest,
) -> Result<AgentDispatch, TwirpError> {
    ensure_admin(g, &req.room)?;
    let room = s.rooms.get_mut(&req.room).ok_or_else(room_not_found)?;
    let Some(i) = room.dispatches.iter().position(|d| d.id == req.dispatch_id) else {
        return Err(psrpc_error("not_found", "dispatch ID not found"));
    };
    Ok(room.dispatches.remove(i))
}
