//! Rooms and `livekit.RoomService` as livekit/livekit answers it (`pkg/service/roomservice.go`,
//! `roomallocator.go`, `auth.go`, `errors.go`), with the webhooks the room's life emits
//! (`pkg/telemetry/events.go`).

use crate::auth::Grants;
use crate::sip_status::psrpc_error;
use crate::store::guid;
use crate::store::now_ms;
use crate::twirp::{auth_error, TwirpError};
use crate::State;
use livekit_protocol::participant_info::State as PState;
use livekit_protocol::{
    AgentDispatch, Codec, CreateRoomRequest, DeleteRoomRequest, DeleteRoomResponse,
    DisconnectReason, ListParticipantsRequest, ListParticipantsResponse, ListRoomsRequest,
    ListRoomsResponse, ParticipantInfo, RemoveParticipantResponse, Room, RoomParticipantIdentity,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// A live room: its proto, participants in join order, agent dispatches in creation order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoomState {
    pub(crate) room: Room,
    pub(crate) participants: Vec<ParticipantInfo>,
    pub(crate) dispatches: Vec<AgentDispatch>,
}

pub(crate) type Rooms = BTreeMap<String, RoomState>;

fn video_flag(g: &Grants, name: &str) -> bool {
    video(g)
        .and_then(|v| field(v, name))
        .and_then(Value::as_bool)
        == Some(true)
}

pub(crate) fn video(g: &Grants) -> Option<&Value> {
    field(&g.claims, "video").filter(|v| v.is_object())
}

/// Go's case-insensitive JSON field match (exact match first).
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let m = v.as_object()?;
    m.get(name)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// `EnsureAdminPermission`: `video.roomAdmin` and `video.room` equal to `room`.
pub(crate) fn ensure_admin(g: Option<&Grants>, room: &str) -> Result<(), TwirpError> {
    let granted_room = g
        .and_then(video)
        .and_then(|v| field(v, "room"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if g.is_some_and(|g| video_flag(g, "roomAdmin")) && granted_room == room {
        Ok(())
    } else {
        Err(auth_error())
    }
}

/// `EnsureCreatePermission` / `EnsureListPermission`.
fn ensure_video(g: Option<&Grants>, flag: &str) -> Result<(), TwirpError> {
    if g.is_some_and(|g| video_flag(g, flag)) {
        Ok(())
    } else {
        Err(auth_error())
    }
}

/// `StandardRoomAllocator.CreateRoom` for a new room, with `pkg/config` defaults.
fn new_room(name: &str) -> Room {
    let now = now_ms();
    let codecs = [
        "audio/PCMU",
        "audio/PCMA",
        "audio/opus",
        "audio/red",
        "video/VP8",
        "video/H264",
        "video/VP9",
        "video/AV1",
        "video/H265",
        "video/rtx",
    ];
    Room {
        sid: guid("RM_"),
        name: name.to_owned(),
        empty_timeout: 5 * 60,
        departure_timeout: 20,
        creation_time: now / 1000,
        creation_time_ms: now,
        turn_password: guid(""),
        enabled_codecs: codecs
            .iter()
            .map(|m| Codec {
                mime: (*m).to_owned(),
                fmtp_line: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

impl State {
    /// The room, created (with `room_started`) if missing.
    pub(crate) fn room_or_create(&mut self, name: &str) -> &mut RoomState {
        if !self.rooms.contains_key(name) {
            let room = new_room(name);
            self.hooks.event("room_started", Some(&room), None);
            self.rooms.insert(
                name.to_owned(),
                RoomState {
                    room,
                    ..Default::default()
                },
            );
        }
        self.rooms.get_mut(name).expect("inserted above")
    }

    /// A participant becomes active: `participant_joined`. An existing participant with the
    /// same identity is kicked first (`DUPLICATE_IDENTITY`), as LiveKit does.
    pub(crate) fn join(&mut self, room: &str, p: ParticipantInfo) {
        let dup = self
            .rooms
            .get(room)
            .is_some_and(|r| r.participants.iter().any(|q| q.identity == p.identity));
        if dup {
            self.leave(
                room,
                &p.identity,
                DisconnectReason::DuplicateIdentity,
                false,
            );
        }
        let r = self.room_or_create(room);
        r.participants.push(p.clone());
        r.room.num_participants = r.participants.len() as u32;
        let room = r.room.clone();
        self.hooks
            .event("participant_joined", Some(&room), Some(&p));
    }

    /// A participant leaves with `reason`: `participant_left`, the SIP call behind it (if any)
    /// ends, and a room left empty closes (`room_finished`) unless `keep_room`. The double
    /// closes at once where LiveKit waits `departure_timeout` (20 s by default).
    pub(crate) fn leave(
        &mut self,
        room: &str,
        identity: &str,
        reason: DisconnectReason,
        keep_room: bool,
    ) -> Option<ParticipantInfo> {
        let r = self.rooms.get_mut(room)?;
        let i = r.participants.iter().position(|p| p.identity == identity)?;
        let mut p = r.participants.remove(i);
        r.room.num_participants = r.participants.len() as u32;
        p.state = PState::Disconnected as i32;
        p.disconnect_reason = reason as i32;
        let snapshot = r.room.clone();
        let empty = r.participants.is_empty();
        self.hooks
            .event("participant_left", Some(&snapshot), Some(&p));
        crate::sip_participant::participant_gone(self, &p.sid, reason);
        if empty && !keep_room {
            self.close_room(room);
        }
        Some(p)
    }

    /// `room_finished` and the room is gone.
    pub(crate) fn close_room(&mut self, name: &str) {
        if let Some(r) = self.rooms.remove(name) {
            self.hooks.event("room_finished", Some(&r.room), None);
        }
    }

    pub(crate) fn participant(&self, room: &str, identity: &str) -> Option<&ParticipantInfo> {
        self.rooms
            .get(room)?
            .participants
            .iter()
            .find(|p| p.identity == identity)
    }

    pub(crate) fn participant_mut(
        &mut self,
        room: &str,
        identity: &str,
    ) -> Option<&mut ParticipantInfo> {
        self.rooms
            .get_mut(room)?
            .participants
            .iter_mut()
            .find(|p| p.identity == identity)
    }
}

/// `CreateRoom`: an existing room is returned, updated with the request's non-zero fields.
pub(crate) fn create(
    s: &mut State,
    g: Option<&Grants>,
    req: CreateRoomRequest,
) -> Result<Room, TwirpError> {
    ensure_video(g, "roomCreate")?;
    let r = s.room_or_create(&req.name);
    let room = &mut r.room;
    if req.empty_timeout > 0 {
        room.empty_timeout = req.empty_timeout;
    }
    if req.departure_timeout > 0 {
        room.departure_timeout = req.departure_timeout;
    }
    if req.max_participants > 0 {
        room.max_participants = req.max_participants;
    }
    if !req.metadata.is_empty() {
        room.metadata = req.metadata;
    }
    Ok(room.clone())
}

/// `ListRooms`: every room, or those named (the store sorts by name).
pub(crate) fn list(
    s: &mut State,
    g: Option<&Grants>,
    req: ListRoomsRequest,
) -> Result<ListRoomsResponse, TwirpError> {
    ensure_video(g, "roomList")?;
    let rooms = s
        .rooms
        .values()
        .filter(|r| req.names.is_empty() || req.names.contains(&r.room.name))
        .map(|r| r.room.clone())
        .collect();
    Ok(ListRoomsResponse { rooms })
}

/// `DeleteRoom`: everyone leaves with `ROOM_DELETED`, then `room_finished`.
pub(crate) fn delete(
    s: &mut State,
    g: Option<&Grants>,
    req: DeleteRoomRequest,
) -> Result<DeleteRoomResponse, TwirpError> {
    ensure_video(g, "roomCreate")?;
    let Some(r) = s.rooms.get(&req.room) else {
        return Err(psrpc_error("not_found", "requested room does not exist"));
    };
    let identities: Vec<String> = r.participants.iter().map(|p| p.identity.clone()).collect();
    for id in identities {
        s.leave(&req.room, &id, DisconnectReason::RoomDeleted, true);
    }
    s.close_room(&req.room);
    Ok(DeleteRoomResponse {})
}

/// `ListParticipants`: an unknown room lists nobody (the OSS store's `HGetAll`).
pub(crate) fn list_participants(
    s: &mut State,
    g: Option<&Grants>,
    req: ListParticipantsRequest,
) -> Result<ListParticipantsResponse, TwirpError> {
    ensure_admin(g, &req.room)?;
    let participants = s
        .rooms
        .get(&req.room)
        .map(|r| r.participants.clone())
        .unwrap_or_default();
    Ok(ListParticipantsResponse { participants })
}

/// `GetParticipant`.
pub(crate) fn get_participant(
    s: &mut State,
    g: Option<&Grants>,
    req: RoomParticipantIdentity,
) -> Result<ParticipantInfo, TwirpError> {
    ensure_admin(g, &req.room)?;
    s.participant(&req.room, &req.identity)
        .cloned()
        .ok_or_else(participant_not_found)
}

/// `ErrParticipantNotFound`.
pub(crate) fn participant_not_found() -> TwirpError {
    psrpc_error("not_found", "participant does not exist")
}

/// `RemoveParticipant`: `participant_left` with `PARTICIPANT_REMOVED`.
pub(crate) fn remove_participant(
    s: &mut State,
    g: Option<&Grants>,
    req: RoomParticipantIdentity,
) -> Result<RemoveParticipantResponse, TwirpError> {
    ensure_admin(g, &req.room)?;
    if s.participant(&req.room, &req.identity).is_none() {
        return Err(participant_not_found());
    }
    s.leave(
        &req.room,
        &req.identity,
        DisconnectReason::ParticipantRemoved,
        false,
    );
    Ok(RemoveParticipantResponse {})
}
