//! `RoomService.MoveParticipant` and `UpdateRoomMetadata`, as livekit/livekit answers them.
//!
//! The service layer is the open-source server's (`pkg/service/roomservice.go`):
//! `MoveParticipant` first checks `EnsureDestRoomPermission` (`pkg/service/auth.go`: a video
//! grant with `roomAdmin`, `room` equal to the source room and `destinationRoom` equal to the
//! destination, else `unauthenticated` "permissions denied"), then refuses a destination equal
//! to the source (`invalid_argument`, `ErrDestinationSameAsSourceRoom`: "destination room
//! cannot be the same as source room"). The open-source `RoomManager.MoveParticipant` then
//! answers "not implemented": moving is a LiveKit Cloud feature. The double plays the Cloud
//! behaviour its documentation describes ("Move a participant": the participant keeps its
//! session and leaves the source room for the destination): a missing room is `not_found`
//! "requested room does not exist" (`ErrRoomNotFound`), a missing participant `not_found`
//! "participant does not exist" (`ErrParticipantNotFound`), an empty destination
//! `invalid_argument` "no room name" (`ErrNoRoomName`, `pkg/service/errors.go`). The source room sees
//! `participant_left` with `MIGRATION`, the destination (created if needed, `room_started`)
//! `participant_joined`; a SIP call behind the participant goes on in its new room.
//!
//! `UpdateRoomMetadata` (`roomservice.go`): `EnsureAdminPermission` on the room, then the
//! room must exist (`ErrRoomNotFound`); the updated room is returned.

use crate::auth::Grants;
use crate::room::{ensure_admin, field, participant_not_found, video};
use crate::sip_status::psrpc_error;
use crate::twirp::{auth_error, TwirpError};
use crate::State;
use livekit_protocol::participant_info::State as PState;
use livekit_protocol::{
    DisconnectReason, MoveParticipantRequest, MoveParticipantResponse, Room,
    UpdateRoomMetadataRequest,
};
use serde_json::Value;

fn room_not_found() -> TwirpError {
    psrpc_error("not_found", "requested room does not exist")
}

/// `EnsureDestRoomPermission`.
fn ensure_dest_room(g: Option<&Grants>, source: &str, destination: &str) -> Result<(), TwirpError> {
    let video = g.and_then(video);
    let text = |name: &str| {
        video
            .and_then(|v| field(v, name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let admin = video
        .and_then(|v| field(v, "roomAdmin"))
        .and_then(Value::as_bool)
        == Some(true);
    if admin && text("room") == source && text("destinationRoom") == destination {
        Ok(())
    } else {
        Err(auth_error())
    }
}

pub(crate) fn move_participant(
    s: &mut State,
    g: Option<&Grants>,
    req: MoveParticipantRequest,
) -> Result<MoveParticipantResponse, TwirpError> {
    ensure_dest_room(g, &req.room, &req.destination_room)?;
    if req.room == req.destination_room {
        return Err(TwirpError::new(
            "invalid_argument",
            "destination room cannot be the same as source room",
        ));
    }
    if req.destination_room.is_empty() {
        return Err(psrpc_error("invalid_argument", "no room name"));
    }
    let Some(source) = s.rooms.get_mut(&req.room) else {
        return Err(room_not_found());
    };
    let Some(i) = source
        .participants
        .iter()
        .position(|p| p.identity == req.identity)
    else {
        return Err(participant_not_found());
    };
    if s.participant(&req.destination_room, &req.identity)
        .is_some()
    {
        return Err(psrpc_error(
            "already_exists",
            "participant with this identity is already in the destination room",
        ));
    }
    let source = s.rooms.get_mut(&req.room).expect("looked up above");
    let moved = source.participants.remove(i);
    source.room.num_participants = source.participants.len() as u32;
    let snapshot = source.room.clone();
    let empty = source.participants.is_empty();
    let mut left = moved.clone();
    left.state = PState::Disconnected as i32;
    left.disconnect_reason = DisconnectReason::Migration as i32;
    s.hooks
        .event("participant_left", Some(&snapshot), Some(&left));
    for c in s.calls.iter_mut().filter(|c| c.participant_id == moved.sid) {
        c.room_name = req.destination_room.clone();
    }
    s.join(&req.destination_room, moved);
    if empty {
        s.close_room(&req.room);
    }
    Ok(MoveParticipantResponse {})
}

pub(crate) fn update_metadata(
    s: &mut State,
    g: Option<&Grants>,
    req: UpdateRoomMetadataRequest,
) -> Result<Room, TwirpError> {
    ensure_admin(g, &req.room)?;
    let r = s.rooms.get_mut(&req.room).ok_or_else(room_not_found)?;
    // "skipping updates if left empty" (livekit_room.proto).
    if !req.metadata.is_empty() {
        r.room.metadata = req.metadata;
    }
    Ok(r.room.clone())
}
