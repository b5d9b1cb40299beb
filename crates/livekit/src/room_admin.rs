//! Steering the participants of a room (RoomService `ListParticipants`, `RemoveParticipant`,
//! `MoveParticipant`, `UpdateRoomMetadata`), for warm transfers. Grants as livekit/livekit
//! `pkg/service/roomservice.go` checks them: room admin of the very room, and for a move also
//! the destination room (`EnsureDestRoomPermission`).

use crate::client::LiveKitClient;
use crate::error::LiveKitError;
use crate::token::{Grants, VideoGrant};
use livekit_protocol as proto;

fn admin_of(room: &str, destination: &str) -> Grants {
    Grants {
        sip: None,
        video: Some(VideoGrant {
            room_admin: true,
            room: room.to_owned(),
            destination_room: destination.to_owned(),
            ..Default::default()
        }),
    }
}

const ROOMS: &str = "livekit.RoomService";

impl LiveKitClient {
    /// Everyone in `room` (an unknown room lists nobody).
    pub async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, LiveKitError> {
        let req = proto::ListParticipantsRequest {
            room: room.to_owned(),
        };
        let resp: proto::ListParticipantsResponse = self
            .rpc(ROOMS, "ListParticipants", admin_of(room, ""), &req, None)
            .await?;
        Ok(resp.participants)
    }

    /// Disconnects one participant from `room`.
    pub async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), LiveKitError> {
        let req = proto::RoomParticipantIdentity {
            room: room.to_owned(),
            identity: identity.to_owned(),
            ..Default::default()
        };
        let _: proto::RemoveParticipantResponse = self
            .rpc(ROOMS, "RemoveParticipant", admin_of(room, ""), &req, None)
            .await?;
        Ok(())
    }

    /// Moves a participant, its session kept, from `room` into `destination`.
    pub async fn move_participant(
        &self,
        room: &str,
        identity: &str,
        destination: &str,
    ) -> Result<(), LiveKitError> {
        let req = proto::MoveParticipantRequest {
            room: room.to_owned(),
            identity: identity.to_owned(),
            destination_room: destination.to_owned(),
        };
        let _: proto::MoveParticipantResponse = self
            .rpc(
                ROOMS,
                "MoveParticipant",
                admin_of(room, destination),
                &req,
                None,
            )
            .await?;
        Ok(())
    }

    /// Replaces the room's metadata, which every participant (the agent too) is sent.
    pub async fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<proto::Room, LiveKitError> {
        let req = proto::UpdateRoomMetadataRequest {
            room: room.to_owned(),
            metadata: metadata.to_owned(),
        };
        self.rpc(ROOMS, "UpdateRoomMetadata", admin_of(room, ""), &req, None)
            .await
    }
}
