//! Placing and steering calls: rooms (RoomService), agent dispatch (AgentDispatchService), and
//! SIP participants (CreateSIPParticipant, TransferSIPParticipant). Each request's token
//! carries only the grants LiveKit checks for that method (livekit/livekit `pkg/service`
//! `roomservice.go`, `agentdispatchservice.go`, `sip.go`).

use crate::client::LiveKitClient;
use crate::error::LiveKitError;
use crate::token::{Grants, SipGrant, VideoGrant};
use livekit_protocol as proto;
use std::time::Duration;

fn room_create() -> Grants {
    Grants {
        sip: None,
        video: Some(VideoGrant {
            room_create: true,
            ..Default::default()
        }),
    }
}

fn room_admin(room: &str) -> VideoGrant {
    VideoGrant {
        room_admin: true,
        room: room.to_owned(),
        ..Default::default()
    }
}

const CALL: SipGrant = SipGrant {
    admin: false,
    call: true,
};

impl LiveKitClient {
    /// Creates the room, or returns it if it exists (LiveKit's CreateRoom is idempotent by
    /// name). `empty_timeout` closes it when the call has gone.
    pub async fn create_room(
        &self,
        name: &str,
        empty_timeout_secs: u32,
        metadata: &str,
    ) -> Result<proto::Room, LiveKitError> {
        let req = proto::CreateRoomRequest {
            name: name.to_owned(),
            empty_timeout: empty_timeout_secs,
            departure_timeout: empty_timeout_secs,
            metadata: metadata.to_owned(),
            ..Default::default()
        };
        self.rpc(
            "livekit.RoomService",
            "CreateRoom",
            room_create(),
            &req,
            None,
        )
        .await
    }

    /// Which of `names` are open rooms (ListRooms with a name filter).
    pub async fn open_rooms(&self, names: &[String]) -> Result<Vec<String>, LiveKitError> {
        let req = proto::ListRoomsRequest {
            names: names.to_vec(),
        };
        let grants = Grants {
            sip: None,
            video: Some(VideoGrant {
                room_list: true,
                ..Default::default()
            }),
        };
        let resp: proto::ListRoomsResponse = self
            .rpc("livekit.RoomService", "ListRooms", grants, &req, None)
            .await?;
        Ok(resp.rooms.into_iter().map(|r| r.name).collect())
    }

    /// Deletes a room, hanging up everyone in it.
    pub async fn delete_room(&self, name: &str) -> Result<(), LiveKitError> {
        let req = proto::DeleteRoomRequest {
            room: name.to_owned(),
        };
        let _: proto::DeleteRoomResponse = self
            .rpc(
                "livekit.RoomService",
                "DeleteRoom",
                room_create(),
                &req,
                None,
            )
            .await?;
        Ok(())
    }

    /// Asks LiveKit to send `agent_name` into `room`.
    pub async fn create_agent_dispatch(
        &self,
        room: &str,
        agent_name: &str,
        metadata: &str,
    ) -> Result<proto::AgentDispatch, LiveKitError> {
        let req = proto::CreateAgentDispatchRequest {
            agent_name: agent_name.to_owned(),
            room: room.to_owned(),
            metadata: metadata.to_owned(),
            ..Default::default()
        };
        let grants = Grants {
            sip: None,
            video: Some(room_admin(room)),
        };
        self.rpc(
            "livekit.AgentDispatchService",
            "CreateDispatch",
            grants,
            &req,
            None,
        )
        .await
    }

    pub async fn list_agent_dispatches(
        &self,
        room: &str,
    ) -> Result<Vec<proto::AgentDispatch>, LiveKitError> {
        let req = proto::ListAgentDispatchRequest {
            dispatch_id: String::new(),
            room: room.to_owned(),
        };
        let grants = Grants {
            sip: None,
            video: Some(room_admin(room)),
        };
        let resp: proto::ListAgentDispatchResponse = self
            .rpc(
                "livekit.AgentDispatchService",
                "ListDispatch",
                grants,
                &req,
                None,
            )
            .await?;
        Ok(resp.agent_dispatches)
    }

    /// Dials out. With `wait_until_answered` LiveKit answers only once the callee picks up,
    /// or with the SIP failure, so `timeout` must outlast the ringing.
    pub async fn create_sip_participant(
        &self,
        req: proto::CreateSipParticipantRequest,
        timeout: Duration,
    ) -> Result<proto::SipParticipantInfo, LiveKitError> {
        self.rpc(
            "livekit.SIP",
            "CreateSIPParticipant",
            CALL.into(),
            &req,
            Some(timeout),
        )
        .await
    }

    /// Cold transfer (SIP REFER) of a participant to `transfer_to` (`sip:` or `tel:` URI).
    /// LiveKit checks the `sip.call` grant and room admin of that very room.
    pub async fn transfer_sip_participant(
        &self,
        room: &str,
        participant_identity: &str,
        transfer_to: &str,
        timeout: Duration,
    ) -> Result<(), LiveKitError> {
        let req = proto::TransferSipParticipantRequest {
            participant_identity: participant_identity.to_owned(),
            room_name: room.to_owned(),
            transfer_to: transfer_to.to_owned(),
            play_dialtone: false,
            ..Default::default()
        };
        let grants = Grants {
            sip: Some(CALL),
            video: Some(room_admin(room)),
        };
        let _: () = self
            .rpc::<_, Empty>(
                "livekit.SIP",
                "TransferSIPParticipant",
                grants,
                &req,
                Some(timeout),
            )
            .await
            .map(|_| ())?;
        Ok(())
    }
}

/// `google.protobuf.Empty`: no fields, so any message decodes as it.
#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

/// A protobuf Duration of whole seconds.
pub fn seconds(s: u64) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: s as i64,
        nanos: 0,
    }
}
